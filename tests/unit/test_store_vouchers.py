"""store/vouchers.py's guarantees: one redemption wins however many race, only while unredeemed and
unexpired; one voucher per customer and campaign; the carrying notification is marked redeemed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.ids import now_ms
from server.store.db import Database
from server.store.inbox import InboxStore
from server.store.vouchers import VoucherStore
from tests.unit.push_world import add_customer, give, open_database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path)
    yield database
    await database.close()


async def test_twenty_redemptions_on_two_processes_exactly_one_wins(tmp_path: Path, db: Database) -> None:
    other = await open_database(tmp_path)
    try:
        ann = await add_customer(db, "ann")
        await give(db, ann, "CODE-0000-0001")
        stores = [VoucherStore(db), VoucherStore(other)]
        results = await asyncio.gather(*(stores[n % 2].redeem("CODE-0000-0001", f"O-{n}") for n in range(20)))
        winners = [n for n, (_, changed) in enumerate(results) if changed]
        assert len(winners) == 1
        # Every caller sees the one outcome.
        assert {v.redeemed_order for v, _ in results if v is not None} == {f"O-{winners[0]}"}
    finally:
        await other.close()


async def test_an_expired_or_unknown_voucher_does_not_redeem(db: Database) -> None:
    store = VoucherStore(db)
    ann = await add_customer(db, "ann")
    await give(db, ann, "OLD0-0000-0000", expires_at=now_ms() - 1)
    voucher, changed = await store.redeem("OLD0-0000-0000", "O-1")
    assert not changed and voucher is not None and voucher.redeemed_at is None
    assert await store.redeem("NONE-NONE-NONE", "O-1") == (None, False)


async def test_redeeming_marks_the_notification_that_carried_it(db: Database) -> None:
    store, inbox = VoucherStore(db), InboxStore(db)
    ann = await add_customer(db, "ann")
    await give(db, ann, "MARK-0000-0000")
    voucher, changed = await store.redeem("MARK-0000-0000", "O-9")
    assert changed and voucher is not None and voucher.redeemed_order == "O-9" and voucher.redeemed_at is not None
    [item] = await inbox.history(ann, 10)
    assert item.actions == ["redeemed"]
    [note] = await inbox.after(ann, 0, 10)
    assert note.voucher is not None and note.voucher.redeemed  # a replay shows it used


async def test_one_voucher_per_customer_and_campaign_and_only_active_ones_listed(db: Database) -> None:
    store = VoucherStore(db)
    ann = await add_customer(db, "ann")
    assert await give(db, ann, "FRST-0000-0000") == 1
    # A repeating campaign's second notification: stored, but the customer keeps the first voucher.
    assert await give(db, ann, "SCND-0000-0000") == 1
    assert await store.get("SCND-0000-0000") is None
    await give(db, ann, "GONE-0000-0000", campaign="cp_2", expires_at=now_ms() - 1)
    await give(db, ann, "USED-0000-0000", campaign="cp_3")
    await store.redeem("USED-0000-0000", "O-1")
    assert [v.code for v in await store.active_for(ann)] == ["FRST-0000-0000"]
    first = await store.get("FRST-0000-0000")
    assert first is not None and (first.campaign_id, first.amount, first.currency) == ("cp_1", 5.0, "EUR")
