"""CustomerService: upsert with validation, get, bulk import, a customer's notification history;
OrderUpdates: an order's news once per (order, status)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from server.errors import Problem
from server.protocol import ErrorCode
from server.push.customers import CustomerIn
from server.push.orders import OrderEvent, OrderUpdates
from server.store.inbox import Draft
from tests.unit.push_world import Shop


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    opened = await Shop.open(tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


def fields(**values: object) -> CustomerIn:
    return msgspec.convert(values, CustomerIn)


async def test_upsert_creates_then_changes_only_what_it_names(shop: Shop) -> None:
    service = shop.customers
    made = await service.upsert("u1", fields(name="Ann Lee", tags=["b", "a", "b"], marketing_consent=True),
                                source="api:k1")
    assert (made.external_id, made.name, made.tags, made.marketing_consent, made.timezone) == (
        "u1", "Ann Lee", ["a", "b"], True, "UTC")
    changed = await service.upsert("u1", fields(loyalty_points=5, timezone="Europe/Oslo"), source="api:k1")
    assert (changed.id, changed.name, changed.loyalty_points, changed.timezone) == (
        made.id, "Ann Lee", 5, "Europe/Oslo")
    assert await service.get("u1") == changed
    consent = await shop.db.fetchone("SELECT consent_source FROM customers WHERE external_id = 'u1'")
    assert consent is not None and consent["consent_source"] == "api:k1"  # who said so is kept


async def test_bad_input_and_unknown_customers_are_problems(shop: Shop) -> None:
    service = shop.customers
    for call, code, text in (
        (service.upsert("u1", fields(timezone="Mars/Base"), source="t"), ErrorCode.INVALID_REQUEST, "time zone"),
        (service.upsert("x" * 65, fields(name="x"), source="t"), ErrorCode.INVALID_REQUEST, "1 to 64"),
        (service.get("nobody"), ErrorCode.NOT_FOUND, "no customer nobody"),
        (service.notifications("nobody", 10), ErrorCode.NOT_FOUND, "no customer nobody"),
        (service.find("nobody", missing="; upsert them first"), ErrorCode.NOT_FOUND, "upsert them first"),
    ):
        with pytest.raises(Problem) as caught:
            await call
        assert caught.value.code == code and text in caught.value.message
    assert await shop.customer_store.get("u1") is None


async def test_import_reports_bad_lines_and_imports_the_rest(shop: Shop) -> None:
    text = '{"id": "b1", "name": "One"}\n{"id": "b2", "loyalty_points": -5}\nnot json\n{"name": "no id"}\n'
    result = await shop.customers.import_lines(text, "jsonl", source="test")
    assert (result.created, result.updated, [e.line for e in result.errors]) == (1, 0, [2, 3, 4])
    again = await shop.customers.import_lines("id,name\nb1,Uno\nc1,New\n", "csv", source="test")
    assert (again.created, again.updated, again.errors) == (1, 1, [])
    assert (await shop.customers.get("b1")).name == "Uno"


async def test_notification_history_newest_first_with_actions(shop: Shop) -> None:
    ann = (await shop.customers.upsert("u1", fields(name="Ann"), source="t")).id
    for n in (1, 2):
        await shop.inbox.deliver([(ann, Draft(kind="news", marketing=False, title=f"n{n}", body="b"))])
    await shop.inbox.track(ann, 1, "opened")
    await shop.inbox.track(ann, 1, "delivered")
    history = await shop.customers.notifications("u1", 10)
    assert [(n.seq, n.title, n.actions) for n in history.notifications] == [(2, "n2", []),
                                                                            (1, "n1", ["delivered", "opened"])]
    assert len((await shop.customers.notifications("u1", 1)).notifications) == 1


async def test_an_order_update_is_stored_once_per_order_and_status(shop: Shop) -> None:
    orders = OrderUpdates(shop.customers, shop.inbox, shop.inbox_store)
    await shop.customers.upsert("u1", fields(name="Ann", marketing_consent=False), source="t")
    event = msgspec.convert({"customer_id": "u1", "order_id": "O-1", "status": "shipped", "text": "On its way"},
                            OrderEvent)
    assert (await orders.post(event)).stored
    assert not (await orders.post(event)).stored
    assert await shop.titles("u1") == ["Order O-1: shipped"]  # transactional: sent without consent
    with pytest.raises(Problem) as caught:
        await orders.post(msgspec.structs.replace(event, customer_id="nobody"))
    assert caught.value.code == ErrorCode.NOT_FOUND and "upsert them first" in caught.value.message
