"""Failed logins are counted per e-mail within the window, and what aged out is pruned for every e-mail."""

from __future__ import annotations

from pathlib import Path

from server.store import Database
from server.store.agents import AgentStore


async def test_failures_age_out_for_every_email(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "r.db"))
    await db.open()
    try:
        agents = AgentStore(db)
        for n in range(50):  # guesses at 50 different addresses, long ago
            await agents.record_login_failure(f"nobody{n}@x.test", at=1_000 + n, forget_before=0)
        await agents.record_login_failure("ann@x.test", at=10_000, forget_before=5_000)
        await agents.record_login_failure("ann@x.test", at=10_001, forget_before=5_001)
        assert await agents.login_failures_since("ann@x.test", 9_000) == 2
        assert await agents.login_failures_since("ann@x.test", 10_000) == 1
        left = await db.fetchone("SELECT COUNT(*) AS n FROM login_failures")
        assert left is not None and left["n"] == 2  # the 50 old ones are gone
    finally:
        await db.close()
