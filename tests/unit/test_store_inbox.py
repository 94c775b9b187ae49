"""store/inbox.py's guarantees: seqs without gaps across processes, exactly once by key, the
daily cap decided in the write, vouchers stored only with their notification, committed returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.ids import now_ms
from server.protocol import Notification, VoucherInfo
from server.store.db import Database
from server.store.inbox import DailyCap, Draft, InboxStore
from server.store.vouchers import VoucherBatch, VoucherStore
from tests.unit.push_world import add_customer, open_database


def offer(key: str | None, title: str = "t", *, code: str | None = None) -> Draft:
    voucher = VoucherInfo(code=code, kind="percent", amount=10.0) if code else None
    return Draft(kind="offer", marketing=True, title=title, body="b", dedupe_key=key, voucher=voucher)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path)
    yield database
    await database.close()


async def test_what_append_returns_is_what_the_store_holds(db: Database) -> None:
    inbox = InboxStore(db)
    ann = await add_customer(db, "ann")
    draft = Draft(kind="order", marketing=False, title="Shipped", body="On its way", url="https://x.example/o",
                  data={"order_id": "O1"}, dedupe_key="order:O1:shipped")
    stored, deliveries = await inbox.append([(ann, draft), (ann, draft)])
    assert stored == 1
    [(customer_id, sent)] = deliveries
    assert customer_id == ann and isinstance(sent, Notification)
    assert (sent.seq, sent.title, sent.data, sent.marketing) == (1, "Shipped", {"order_id": "O1"}, False)
    assert await inbox.after(ann, 0, 10) == [sent]
    assert await inbox.append([(ann, draft)]) == (0, [])


async def test_seqs_have_no_gap_and_no_repeat_when_two_processes_append_at_once(tmp_path: Path,
                                                                                db: Database) -> None:
    other = await open_database(tmp_path)
    try:
        ann = await add_customer(db, "ann")
        stores = [InboxStore(db), InboxStore(other)]
        await asyncio.gather(*(stores[n % 2].append([(ann, offer(None, f"n{n}"))]) for n in range(40)))
        assert [n.seq for n in await stores[0].after(ann, 0, 100)] == list(range(1, 41))
    finally:
        await other.close()


async def test_exactly_once_by_key_when_processes_race(tmp_path: Path, db: Database) -> None:
    other = await open_database(tmp_path)
    try:
        ann = await add_customer(db, "ann")
        stores = [InboxStore(db), InboxStore(other)]
        results = await asyncio.gather(*(stores[n % 2].append([(ann, offer("campaign:x"))]) for n in range(10)))
        assert sorted(stored for stored, _ in results) == [0] * 9 + [1]
        assert len(await stores[1].after(ann, 0, 100)) == 1
    finally:
        await other.close()


async def test_vouchers_are_stored_only_with_the_notifications_that_carry_them(db: Database) -> None:
    inbox, vouchers = InboxStore(db), VoucherStore(db)
    ann, bob = await add_customer(db, "ann"), await add_customer(db, "bob")
    await inbox.append([(bob, offer("earlier"))])  # Bob reached today's cap of 1 already
    batch = VoucherBatch(campaign_id="cp_1", codes={ann: "AAAA-AAAA-AAAA", bob: "BBBB-BBBB-BBBB"}, kind="percent",
                         amount=10.0, currency=None, expires_at=None)
    drafts = [(ann, offer("campaign:cp_1", code="AAAA-AAAA-AAAA")),
              (bob, offer("campaign:cp_1", code="BBBB-BBBB-BBBB"))]
    stored, deliveries = await inbox.append(drafts, daily_cap=DailyCap(1, now_ms() - 86_400_000), vouchers=batch)
    assert stored == 1 and [d.customer_id for d in deliveries] == [ann]
    assert deliveries[0].notification.voucher == VoucherInfo(code="AAAA-AAAA-AAAA", kind="percent", amount=10.0)
    assert await vouchers.get("AAAA-AAAA-AAAA") is not None
    assert await vouchers.get("BBBB-BBBB-BBBB") is None  # no voucher nobody was told of


async def test_a_broadcast_share_returns_what_each_connected_customer_holds_for_the_key(db: Database) -> None:
    inbox = InboxStore(db)
    ann, bob, cid = await add_customer(db, "ann"), await add_customer(db, "bob"), await add_customer(db, "cid")
    # Another process stored Bob's a moment ago.
    await inbox.append([(bob, offer("campaign:k", "from the other process"))])
    stored, found = await inbox.append_for_connected([ann, bob, cid], [(ann, offer("campaign:k", "here"))],
                                                     "campaign:k")
    assert stored == 1
    assert sorted((d.customer_id, d.notification.title, d.notification.seq) for d in found) == sorted(
        [(ann, "here", 1), (bob, "from the other process", 1)])  # Cid has none: nothing for him
    # What was built from the draft equals what the store now holds.
    assert [d.notification for d in found if d.customer_id == ann] == await inbox.after(ann, 0, 10)
    # Nothing to store (all reached): still each one's notification, for their sockets here.
    assert sorted(d.customer_id for d in (await inbox.append_for_connected([ann, bob], [], "campaign:k"))[1]) == \
        sorted([ann, bob])


async def test_expired_notifications_are_left_out_of_a_snapshot_not_out_of_the_stream(db: Database) -> None:
    inbox = InboxStore(db)
    ann = await add_customer(db, "ann")
    gone = Draft(kind="offer", marketing=True, title="gone", body="b", expires_at=now_ms() - 1)
    kept = Draft(kind="news", marketing=True, title="kept", body="b")
    await inbox.append([(ann, gone), (ann, kept), (ann, kept)])
    assert [n.title for n in await inbox.after(ann, 0, 10)] == ["gone", "kept", "kept"]
    assert [n.seq for n in await inbox.latest_unexpired(ann, 1)] == [3]
    assert [n.seq for n in await inbox.latest_unexpired(ann, 10)] == [2, 3]
    assert await inbox.last_seqs([ann, "cu_nobody"]) == {ann: 3}


async def test_actions_count_once_and_the_history_shows_them(db: Database) -> None:
    inbox = InboxStore(db)
    ann = await add_customer(db, "ann")
    await inbox.append([(ann, offer("a", "first")), (ann, offer("b", "second"))])
    assert await inbox.campaign_of(ann, 1) == (True, None)
    assert await inbox.campaign_of(ann, 9) == (False, None)
    assert await inbox.record_action(ann, 1, "opened", None)
    assert not await inbox.record_action(ann, 1, "opened", None)
    assert await inbox.record_action(ann, 1, "clicked", None)
    history = await inbox.history(ann, 10)
    assert [(h.seq, h.title, sorted(h.actions)) for h in history] == [(2, "second", []),
                                                                      (1, "first", ["clicked", "opened"])]
