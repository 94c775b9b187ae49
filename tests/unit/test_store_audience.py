"""store/audience.py: rules compiled to SQL with values as parameters, and who each selection holds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from server.store.audience import AudienceStore, BadRule, Condition, Everyone, Listed, Selection, check, where
from server.store.db import Database
from tests.unit.push_world import add_customer, days_ago, open_database


def rule(value: dict[str, Any]) -> Condition:
    return msgspec.convert(value, Condition)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"field": "password", "op": "eq", "value": 1}, "unknown field"),
        ({"field": "attributes.a-b", "op": "eq", "value": 1}, "unknown field"),  # not a plain name
        ({"field": "tier", "op": "gt", "value": "a"}, "compares numbers"),
        ({"field": "tags", "op": "eq", "value": "x"}, "has_tag and exists"),
        ({"field": "tier", "op": "has_tag", "value": "x"}, "has_tag works on `tags`"),
        ({"all": []}, "empty group"),
        ({"field": "tier", "op": "in", "value": []}, "non-empty list"),
        ({"field": "tier", "op": "eq", "value": ["a"]}, "not a list"),
        ({"field": "tier", "op": "eq"}, "needs a value"),
        ({"field": "tier"}, "needs a field and an op"),
        ({"field": "marketing_consent", "op": "eq", "value": 1}, "true or false"),
        ({"field": "loyalty_points", "op": "gt", "value": "ten"}, "with a number"),
        ({"field": "tier", "op": "days_since_gt", "value": 3}, "last_order_at or created_at"),
        ({"field": "last_order_at", "op": "days_since_gt", "value": -1}, "number of days"),
        ({"field": "tier", "op": "eq", "value": "x", "all": [{"field": "tier", "op": "exists"}]}, "either a rule"),
        ({"all": [{"all": [{"all": [{"all": [{"all": [{"all": [{"field": "tier", "op": "exists"}]}]}]}]}]}]},
         "nested deeper"),
        ({"any": [{"field": "tier", "op": "exists"}] * 50}, "more than 50"),
    ],
)
def test_a_rule_that_is_not_one_of_the_known_shapes_is_refused_before_any_sql(bad: dict[str, Any], why: str) -> None:
    with pytest.raises(BadRule, match=why):
        check(rule(bad))


def test_only_whitelisted_expressions_reach_sql_and_every_value_is_a_parameter() -> None:
    sneaky = "x') OR 1=1 --"
    sql, params = where(rule({"all": [{"field": "tier", "op": "eq", "value": sneaky},
                                      {"field": "attributes.city", "op": "in", "value": ["Oslo", sneaky]},
                                      {"field": "tags", "op": "has_tag", "value": sneaky}]}))
    assert sneaky not in sql
    # The tag goes twice: quoted as JSON for the substring search, then as itself for json_each.
    assert params == [sneaky, "Oslo", sneaky, json.dumps(sneaky), sneaky]
    assert where(Everyone()) == ("1 = 1", [])
    assert where(Listed(())) == ("0 = 1", [])
    assert where(Listed(("a", "b"))) == ("customers.external_id IN (?,?)", ["a", "b"])


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path)
    await add_customer(database, "ann", name="Ann", tier="gold", tags=["vip"], marketing_consent=True,
                       attributes={"city": "Oslo", "visits": 12}, last_order_at=days_ago(120))
    await add_customer(database, "bob", name="Bob", tier="silver", marketing_consent=True,
                       attributes={"city": "Bergen"}, last_order_at=days_ago(5))
    await add_customer(database, "cid", name="Cid", tier="gold", tags=["vip"], marketing_consent=False)
    yield database
    await database.close()


CASES: list[tuple[str, Selection, list[str]]] = [
    ("everyone", Everyone(), ["ann", "bob", "cid"]),
    ("listed", Listed(("bob", "nobody")), ["bob"]),
    ("tier", rule({"field": "tier", "op": "eq", "value": "gold"}), ["ann", "cid"]),
    ("tier in", rule({"field": "tier", "op": "in", "value": ["silver", "bronze"]}), ["bob"]),
    ("tag", rule({"field": "tags", "op": "has_tag", "value": "vip"}), ["ann", "cid"]),
    ("attribute", rule({"field": "attributes.city", "op": "eq", "value": "Oslo"}), ["ann"]),
    ("number attribute", rule({"field": "attributes.visits", "op": "gte", "value": 12}), ["ann"]),
    ("attribute exists", rule({"field": "attributes.city", "op": "exists"}), ["ann", "bob"]),
    ("lapsed", rule({"field": "last_order_at", "op": "days_since_gt", "value": 90}), ["ann"]),
    ("recent", rule({"field": "last_order_at", "op": "days_since_lt", "value": 90}), ["bob"]),
    ("consent", rule({"field": "marketing_consent", "op": "eq", "value": False}), ["cid"]),
    ("any of", rule({"any": [{"field": "tier", "op": "eq", "value": "silver"},
                             {"field": "attributes.visits", "op": "gt", "value": 10}]}), ["ann", "bob"]),
    ("all of", rule({"all": [{"field": "tier", "op": "eq", "value": "gold"},
                             {"field": "marketing_consent", "op": "eq", "value": True}]}), ["ann"]),
    ("a value that looks like sql", rule({"field": "tier", "op": "eq", "value": "x' OR '1'='1"}), []),
]


@pytest.mark.parametrize(("_name", "selection", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_count_members_and_includes_agree(db: Database, _name: str, selection: Selection,
                                                expected: list[str]) -> None:
    audience = AudienceStore(db)
    members = await audience.members(selection, 100, 0)
    assert [m.external_id for m in members] == expected
    assert await audience.count(selection) == len(expected)
    for member in members:
        assert await audience.includes(member.id, selection)


async def test_members_are_typed_and_paged_by_shop_id(db: Database) -> None:
    audience = AudienceStore(db)
    first, second = await audience.members(Everyone(), 1, 0), await audience.members(Everyone(), 2, 1)
    assert [m.external_id for m in first + second] == ["ann", "bob", "cid"]
    ann = first[0]
    assert (ann.tags, ann.attributes, ann.marketing_consent) == (["vip"], {"city": "Oslo", "visits": 12}, True)


async def test_anonymous_visitors_are_never_selected(db: Database) -> None:
    await db.run("INSERT INTO customers (id, created_at, marketing_consent) VALUES ('cu_anon', 0, 1)")
    audience = AudienceStore(db)
    assert await audience.count(Everyone()) == 3
    assert await audience.eligible(["cu_anon"], Everyone(), daily_cap=5, dedupe_key="k") == []
