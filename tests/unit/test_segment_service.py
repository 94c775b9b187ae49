"""SegmentService: segment CRUD with its errors, counts, members, previews and the lapsed built-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from server.errors import Problem
from server.protocol import ErrorCode
from server.push.segments import Condition, SegmentDraft, SegmentIn
from tests.unit.push_world import Shop, add_customer, days_ago


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    opened = await Shop.open(tmp_path)
    await add_customer(opened.db, "gold1", name="Gia", tier="gold", tags=["vip"], last_order_at=days_ago(200))
    await add_customer(opened.db, "gold2", name="Gus", tier="gold", last_order_at=days_ago(3))
    await add_customer(opened.db, "silver1", name="Sam", tier="silver")
    try:
        yield opened
    finally:
        await opened.close()


def body(name: str, rules: dict[str, Any]) -> SegmentIn:
    return msgspec.convert({"name": name, "rules": rules}, SegmentIn)


GOLD = {"field": "tier", "op": "eq", "value": "gold"}


async def test_create_get_list_update_delete(shop: Shop) -> None:
    service = shop.segments
    made = await service.create(body("gold", GOLD))
    assert (made.name, made.members) == ("gold", 2)
    assert await service.get(made.id) == made
    vip = await service.create(body("vip", {"field": "tags", "op": "has_tag", "value": "vip"}))
    assert [(s.name, s.members) for s in (await service.all()).segments] == [("gold", 2), ("vip", 1)]
    changed = await service.update(made.id, body("silver", {"field": "tier", "op": "eq", "value": "silver"}))
    assert (changed.name, changed.members) == ("silver", 1)
    await service.delete(vip.id)
    assert [s.name for s in (await service.all()).segments] == ["silver"]
    assert await service.rules(made.id) == Condition(field="tier", op="eq", value="silver")
    assert await service.rules(vip.id) is None


async def test_errors_say_what_went_wrong_and_change_nothing(shop: Shop) -> None:
    service = shop.segments
    made = await service.create(body("gold", GOLD))
    other = await service.create(body("other", {"field": "tier", "op": "exists"}))
    for call, code, text in (
        (service.create(body("gold", GOLD)), ErrorCode.CONFLICT, "a segment named 'gold' exists"),
        (service.update(other.id, body("gold", GOLD)), ErrorCode.CONFLICT, "exists"),
        (service.create(body("bad", {"field": "password", "op": "eq", "value": 1})), ErrorCode.INVALID_REQUEST,
         "bad rule: unknown field"),
        (service.update(made.id, body("gold", {"all": []})), ErrorCode.INVALID_REQUEST, "bad rule: an empty group"),
        (service.update("sg_nobody", body("x", GOLD)), ErrorCode.NOT_FOUND, "no such segment"),
        (service.get("sg_nobody"), ErrorCode.NOT_FOUND, "no such segment"),
        (service.delete("sg_nobody"), ErrorCode.NOT_FOUND, "no such segment"),
        (service.members("sg_nobody", 10, 0), ErrorCode.NOT_FOUND, "no such segment"),
        (service.preview(SegmentDraft(rules=Condition(field="tier", op="gt", value="a")), 10, 0),
         ErrorCode.INVALID_REQUEST, "bad rule"),
    ):
        with pytest.raises(Problem) as caught:
            await call
        assert caught.value.code == code and text in caught.value.message
    assert [(s.name, s.members) for s in (await service.all()).segments] == [("gold", 2), ("other", 3)]


async def test_members_preview_and_lapsed_page_by_shop_id(shop: Shop) -> None:
    service = shop.segments
    made = await service.create(body("gold", GOLD))
    page = await service.members(made.id, 1, 1)
    assert page.total == 2 and [c.external_id for c in page.customers] == ["gold2"]
    assert page.customers[0].name == "Gus" and page.customers[0].tags == []
    preview = await service.preview(SegmentDraft(rules=Condition(any=[
        Condition(field="tier", op="eq", value="silver"), Condition(field="tags", op="has_tag", value="vip")])), 10, 0)
    assert [c.external_id for c in preview.customers] == ["gold1", "silver1"]
    lapsed = await service.lapsed(90, 10, 0)
    assert (lapsed.total, [c.external_id for c in lapsed.customers]) == (1, ["gold1"])
