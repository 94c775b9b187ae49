"""store/sessions.py: login attempts reserved atomically per key and window; sessions that end and expire."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.ids import now_ms
from server.store import Database
from server.store.agents import AgentStore
from server.store.sessions import SessionStore


async def _open(tmp_path: Path) -> Database:
    db = Database(str(tmp_path / "r.db"))
    await db.open()
    return db


async def test_concurrent_attempts_get_no_more_than_the_limit(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    try:
        store = SessionStore(db)
        results = await asyncio.gather(
            *(store.reserve_attempt([("account:ann@x.test", 10), ("address:10.0.0.1", 30)], 300_000) for _ in range(40))
        )
        granted = [r for r in results if r is not None]
        assert len(granted) == 10
        # A refused reservation records nothing: the address key holds exactly the granted ten.
        row = await db.fetchone("SELECT COUNT(*) AS n FROM login_attempts WHERE key = 'address:10.0.0.1'")
        assert row is not None and row["n"] == 10
        # Forgetting one (a right password) frees its place under every key.
        await store.forget_attempts(granted[0])
        assert await store.reserve_attempt([("account:ann@x.test", 10)], 300_000) is not None
        assert await store.reserve_attempt([("account:ann@x.test", 10)], 300_000) is None
    finally:
        await db.close()


async def test_attempts_age_out_for_every_key(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    try:
        store = SessionStore(db)
        old = now_ms() - 10_000
        await db.write(
            lambda tx: tx.executemany(
                "INSERT INTO login_attempts (key, at) VALUES (?, ?)", [(f"account:n{n}@x.test", old) for n in range(50)]
            )
        )
        assert await store.reserve_attempt([("account:ann@x.test", 1)], 5_000) is not None
        left = await db.fetchone("SELECT COUNT(*) AS n FROM login_attempts")
        assert left is not None and left["n"] == 1  # guesses at ever new addresses do not pile up
    finally:
        await db.close()


async def test_sessions_end_and_expire(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    try:
        agents = AgentStore(db)
        ann = await agents.create(email="ann@x.test", name="Ann", role="agent", password_hash="x", max_concurrent=5)
        store = SessionStore(db)
        one = await store.create(ann, 60_000)
        two = await store.create(ann, 60_000)
        short = await store.create(ann, 1)
        assert (await store.active(one.id)) is not None
        await asyncio.sleep(0.01)
        assert await store.active(short.id) is None  # expired
        assert await store.end(one.id)
        assert await store.active(one.id) is None
        assert not await store.end(one.id)  # once
        three = await store.create(ann, 60_000)
        assert sorted(await store.end_all(ann, keep=three.id)) == [two.id]
        assert await store.active(three.id) is not None
        await agents.update(ann, {"disabled": 1})
        assert await store.active(three.id) is None  # a disabled agent has no active session
    finally:
        await db.close()
