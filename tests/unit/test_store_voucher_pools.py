"""store/voucher_pools.py's guarantees: a drawn code never repeats one held by a voucher or an
imported list; issues racing on one one-per-customer pool give each customer one code; batches
walk the segment in order and record where they ended."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.protocol import VoucherInfo
from server.store.audience import Condition
from server.store.db import Database
from server.store.inbox import Draft
from server.store.voucher_pools import PoolFields, PoolStore
from tests.unit.push_world import add_customer, give, open_database

GOLD = Condition(field="tier", op="eq", value="gold")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path)
    yield database
    await database.close()


def offer(voucher: VoucherInfo) -> Draft:
    return Draft(kind="offer", marketing=True, title="t", body=voucher.code, voucher=voucher)


async def pool(store: PoolStore, *, source: str = "generated", once: bool = True) -> str:
    return await store.create(
        PoolFields(name=f"p-{source}-{once}", kind="percent", amount=10, currency=None, expires_at=None,
                   one_per_customer=once, source=source, created_by=None)
    )


async def codes_of(db: Database, pool_id: str) -> dict[str, list[str]]:
    rows = await db.fetchall("SELECT customer_id, code FROM vouchers WHERE pool_id = ? ORDER BY code", (pool_id,))
    held: dict[str, list[str]] = {}
    for row in rows:
        held.setdefault(row["customer_id"], []).append(row["code"])
    return held


async def test_a_drawn_code_never_repeats_a_held_or_imported_one(db: Database) -> None:
    store = PoolStore(db)
    ann = await add_customer(db, "ann", tier="gold", marketing_consent=True)
    await give(db, ann, "SAME-0000-0001")
    imported = await pool(store, source="imported")
    assert (await store.import_codes(imported, ["SAME-0000-0002"])).imported == 1
    drawn = await pool(store)
    # The draw offers the two taken codes first, then a free one.
    sequence: Iterator[str] = iter(["SAME-0000-0001", "SAME-0000-0002", "FREE-0000-0003"])
    issue = await store.start_issue(drawn, "sg_1")
    batch = await store.issue_batch(issue.id, GOLD, 100, offer, lambda: next(sequence))
    assert batch.done and batch.issue.issued == 1
    assert await codes_of(db, drawn) == {ann: ["FREE-0000-0003"]}
    [delivery] = batch.deliveries
    assert delivery.notification.voucher is not None and delivery.notification.voucher.code == "FREE-0000-0003"


async def test_racing_issues_of_a_one_per_customer_pool_give_one_code_each(db: Database) -> None:
    store = PoolStore(db)
    members = [await add_customer(db, f"m{n}", tier="gold", marketing_consent=True) for n in range(7)]
    pool_id = await pool(store)
    issues = [await store.start_issue(pool_id, "sg_1") for _ in range(3)]
    counter = iter(range(10_000))

    async def run(issue_id: str) -> int:
        issued = 0
        while True:  # batches of 2: several batches per issue, interleaved with the others'
            batch = await store.issue_batch(issue_id, GOLD, 2, offer, lambda: f"CODE-{next(counter):04d}")
            issued = batch.issue.issued
            if batch.done:
                return issued

    totals = await asyncio.gather(*(run(i.id) for i in issues))
    assert sum(totals) == 7
    held = await codes_of(db, pool_id)
    assert sorted(held) == sorted(members) and all(len(c) == 1 for c in held.values())
    for issue in issues:
        found = await store.issue(issue.id)
        assert found is not None and found.status == "done" and found.members == 7
        assert found.issued + found.already_held == 7


async def test_a_pool_not_one_per_customer_gives_one_code_per_issue(db: Database) -> None:
    store = PoolStore(db)
    ann = await add_customer(db, "ann", tier="gold", marketing_consent=True)
    await add_customer(db, "bob", tier="gold", marketing_consent=False)
    await add_customer(db, "cy", tier="silver", marketing_consent=True)
    pool_id = await pool(store, once=False)
    codes = iter(["A000-0001", "A000-0002"])
    for _ in range(2):
        issue = await store.start_issue(pool_id, "sg_1")
        batch = await store.issue_batch(issue.id, GOLD, 100, offer, lambda: next(codes))
        assert (batch.issue.issued, batch.issue.no_consent, batch.issue.members) == (1, 1, 2)
    assert await codes_of(db, pool_id) == {ann: ["A000-0001", "A000-0002"]}
