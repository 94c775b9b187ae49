"""store/customers.py's CustomerAttributesStore: upserts in one transaction, fields left out kept,
one customer per shop id however callers race, typed details."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.store.customers import _PUSH_COLUMNS, CustomerAttributesStore, CustomerDetails
from server.store.db import Database
from tests.unit.push_world import open_database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path)
    yield database
    await database.close()


def test_the_details_are_read_from_the_push_columns() -> None:
    assert ", ".join(CustomerDetails.__struct_fields__) == _PUSH_COLUMNS


async def test_an_upsert_keeps_what_it_does_not_name_and_details_are_typed(db: Database) -> None:
    store = CustomerAttributesStore(db)
    assert await store.upsert_many([("ann", {"name": "Ann", "tags": '["vip"]', "marketing_consent": 1,
                                             "attributes": '{"city": "Oslo"}'})]) == (1, 0)
    assert await store.upsert_many([("ann", {"loyalty_points": 7})]) == (0, 1)
    ann = await store.get("ann")
    assert ann is not None
    assert (ann.name, ann.loyalty_points, ann.tags, ann.attributes, ann.marketing_consent, ann.timezone) == (
        "Ann", 7, ["vip"], {"city": "Oslo"}, True, "UTC")
    assert [c.external_id for c in await store.by_ids([ann.id, "cu_nobody"])] == ["ann"]
    assert await store.get("nobody") is None


async def test_a_batch_is_one_transaction(db: Database) -> None:
    store = CustomerAttributesStore(db)
    with pytest.raises(Exception, match="no such column"):
        await store.upsert_many([("ann", {"name": "Ann"}), ("bob", {"not_a_column": 1})])
    assert await store.get("ann") is None


async def test_one_customer_per_shop_id_when_processes_race(tmp_path: Path, db: Database) -> None:
    other = await open_database(tmp_path)
    try:
        stores = [CustomerAttributesStore(db), CustomerAttributesStore(other)]
        results = await asyncio.gather(*(stores[n % 2].upsert_many([("ann", {"tier": f"t{n}"})]) for n in range(10)))
        assert sorted(results) == [(0, 1)] * 9 + [(1, 0)]
        row = await db.fetchone("SELECT COUNT(*) AS n FROM customers WHERE external_id = 'ann'")
        assert row is not None and row["n"] == 1
    finally:
        await other.close()
