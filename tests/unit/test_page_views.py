"""chat/page_views.py: the last N pages per customer stored; a visitor who has not written gets no
record for browsing, their pages held in memory (bounded) until they write, then stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from server.chat import page_views
from server.chat.page_views import PageViews
from server.ids import new_id
from server.store.db import Database
from server.store.page_views import PageViewStore
from tests.support.live import test_settings
from tests.unit import chat_world as w


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(str(tmp_path / "pages.db"))
    await database.open()
    yield database
    await database.close()


def service(db: Database, tmp_path: Path, keep: int = 3) -> PageViews:
    return PageViews(PageViewStore(db), msgspec.structs.replace(test_settings(tmp_path), page_views_kept=keep))


async def test_a_customer_keeps_their_last_pages_newest_first(db: Database, tmp_path: Path) -> None:
    pages = service(db, tmp_path)
    ann = await w.customer(db, "Ann")
    for n in range(5):
        await pages.viewed(ann, f"https://shop.example/p{n}", f"Page {n}", recorded=True)
    latest = await pages.latest(ann, 10)
    assert [p.url for p in latest] == ["https://shop.example/p4", "https://shop.example/p3", "https://shop.example/p2"]
    assert latest[0].title == "Page 4"
    row = await db.fetchone("SELECT COUNT(*) AS n FROM page_views")
    assert row is not None and row["n"] == 3


async def test_a_visitor_s_pages_wait_until_they_write_then_are_stored(db: Database, tmp_path: Path) -> None:
    pages = service(db, tmp_path)
    visitor = new_id("cu")  # no record: they only browse
    for n in range(4):
        await pages.viewed(visitor, f"https://shop.example/v{n}", None, recorded=False)
    row = await db.fetchone("SELECT COUNT(*) AS n FROM page_views")
    assert row is not None and row["n"] == 0
    assert await db.fetchone("SELECT 1 FROM customers WHERE id = ?", (visitor,)) is None
    await db.write(lambda tx: tx.execute("INSERT INTO customers (id, created_at) VALUES (?, 0)", (visitor,)))
    await pages.recorded(visitor)  # their first message made their record
    assert [p.url for p in await pages.latest(visitor, 10)] == [f"https://shop.example/v{n}" for n in (3, 2, 1)]
    await pages.recorded(visitor)  # nothing held twice
    row = await db.fetchone("SELECT COUNT(*) AS n FROM page_views")
    assert row is not None and row["n"] == 3


async def test_held_pages_are_bounded_by_visitors(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(page_views, "WAITING_VISITORS", 5)
    pages = service(db, tmp_path)
    visitors = [new_id("cu") for _ in range(8)]
    for visitor in visitors:
        await pages.viewed(visitor, "https://shop.example/", None, recorded=False)
    assert list(pages._waiting) == visitors[3:]  # the least recently seen forgotten first
