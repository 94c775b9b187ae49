"""Console sessions and login attempts: what the server holds so that sessions can end and guessing is limited.

Guarantees:
- `reserve_attempt` counts and records in one write transaction (BEGIN IMMEDIATE holds SQLite's
  write lock across processes): however many attempts arrive at once, on however many
  processes, at most `limit` per key are let through within the window.
- A session is active while it exists, has not ended, has not expired and its agent is not
  disabled; `end` and `end_all` hold for every process from their commit on (nothing is cached).
"""

from __future__ import annotations

import secrets

import msgspec

from server.ids import now_ms
from server.store.agents import AgentRecord, agent_record
from server.store.db import Database, Tx

# Ended and expired sessions are kept this long after they stop (an admin can see recent ones),
# then pruned when a new session starts.
_KEEP_MS = 30 * 86_400_000


class ActiveSession(msgspec.Struct, frozen=True):
    id: str
    expires_at: int
    agent: AgentRecord


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, agent_id: str, max_age_ms: int) -> ActiveSession:
        session_id = secrets.token_urlsafe(24)
        now = now_ms()

        def work(tx: Tx) -> ActiveSession | None:
            tx.execute("DELETE FROM agent_sessions WHERE expires_at < ? OR ended_at < ?", (now - _KEEP_MS,) * 2)
            tx.execute(
                "INSERT INTO agent_sessions (id, agent_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (session_id, agent_id, now, now + max_age_ms),
            )
            return _active_in(tx, session_id, now)

        found = await self.db.write(work)
        if found is None:
            raise LookupError(agent_id)
        return found

    async def active(self, session_id: str) -> ActiveSession | None:
        row = await self.db.fetchone(_ACTIVE, (session_id, now_ms()))
        return (
            ActiveSession(id=session_id, expires_at=row["session_expires_at"], agent=agent_record(row)) if row else None
        )

    async def end(self, session_id: str) -> bool:
        changed = await self.db.run(
            "UPDATE agent_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL", (now_ms(), session_id)
        )
        return changed > 0

    async def end_all(self, agent_id: str, *, keep: str | None = None) -> list[str]:
        """End every session of the agent but `keep`; the ids ended."""
        rows = await self.db.run_returning(
            "UPDATE agent_sessions SET ended_at = ? WHERE agent_id = ? AND ended_at IS NULL AND expires_at > ?"
            " AND id IS NOT ? RETURNING id",
            (now_ms(), agent_id, now_ms(), keep),
        )
        return [str(r[0]) for r in rows]

    async def reserve_attempt(self, limits: list[tuple[str, int]], window_ms: int) -> list[int] | None:
        """Record one login attempt under each key, unless a key already holds `limit` attempts
        within the window: then record nothing and return None. The ids recorded otherwise
        (`forget_attempts` them when the attempt succeeded)."""
        now = now_ms()

        def work(tx: Tx) -> list[int] | None:
            tx.execute("DELETE FROM login_attempts WHERE at <= ?", (now - window_ms,))
            for key, limit in limits:
                held = tx.execute(
                    "SELECT COUNT(*) FROM login_attempts WHERE key = ? AND at > ?", (key, now - window_ms)
                )
                if held.fetchone()[0] >= limit:
                    return None
            ids = []
            for key, _limit in limits:
                cursor = tx.execute("INSERT INTO login_attempts (key, at) VALUES (?, ?)", (key, now))
                ids.append(int(cursor.lastrowid or 0))
            return ids

        return await self.db.write(work)

    async def forget_attempts(self, ids: list[int]) -> None:
        if ids:
            await self.db.run(f"DELETE FROM login_attempts WHERE id IN ({','.join('?' * len(ids))})", ids)


_ACTIVE = """
SELECT a.*, s.expires_at AS session_expires_at
FROM agent_sessions s JOIN agents a ON a.id = s.agent_id
WHERE s.id = ? AND s.ended_at IS NULL AND s.expires_at > ? AND a.disabled = 0
"""


def _active_in(tx: Tx, session_id: str, now: int) -> ActiveSession | None:
    row = tx.execute(_ACTIVE, (session_id, now)).fetchone()
    return ActiveSession(id=session_id, expires_at=row["session_expires_at"], agent=agent_record(row)) if row else None
