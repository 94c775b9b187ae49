"""Actions limited per window across every process (new conversations per visitor, address, shop).

Guarantee: `limited` counts and records in the caller's write transaction, so the decision and
the action it allows commit together or not at all, and concurrent callers on any process
cannot together pass a limit (the write transaction holds SQLite's lock).
"""

from __future__ import annotations

from server.ids import now_ms
from server.store.db import Tx

# The longest window a limit may have; older rows are pruned by every call.
MAX_WINDOW_MS = 86_400_000


def limited(tx: Tx, limits: list[tuple[str, int, int]]) -> str | None:
    """The first key (of `(key, limit, window_ms)`) that has reached its limit, or None after
    recording one action under every key."""
    now = now_ms()
    tx.execute("DELETE FROM limited_actions WHERE at <= ?", (now - MAX_WINDOW_MS,))
    for key, limit, window in limits:
        if window > MAX_WINDOW_MS:
            raise ValueError(f"window of {key} longer than {MAX_WINDOW_MS} ms")
        held = tx.execute("SELECT COUNT(*) FROM limited_actions WHERE key = ? AND at > ?", (key, now - window))
        if held.fetchone()[0] >= limit:
            return key
    tx.executemany("INSERT INTO limited_actions (key, at) VALUES (?, ?)", [(key, now) for key, _l, _w in limits])
    return None
