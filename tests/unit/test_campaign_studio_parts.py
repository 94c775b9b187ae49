"""The parts the studio's campaigns rely on, each alone: the field a validation problem names,
whose day a yearly date falls on, the chart's bucket, greetings by an attribute date on a real
store, and the reach query's split between reached and capped customers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from server.api.edge import field_of
from server.ids import now_ms
from server.push.campaigns import bucket_for
from server.push.greetings import falls_on
from server.store.audience import Everyone
from server.store.inbox import Draft
from tests.unit.push_world import Shop, add_customer


@pytest.mark.parametrize(("message", "field"), [
    ("Object missing required field `name`", "name"),
    ("Object missing required field `type` - at `$.audience`", "audience.type"),
    ("Expected `int` >= 1 - at `$.audience.days`", "audience.days"),
    ("Expected `str` of length <= 64 - at `$.audience.customer_ids[3]`", "audience.customer_ids.3"),
    ("Expected `object`, got `array`", None),
])
def test_the_field_a_validation_problem_names(message: str, field: str | None) -> None:
    assert field_of(message) == field


@pytest.mark.parametrize(("day", "date", "expected"), [
    ("03-14", dt.date(2027, 3, 14), True),
    ("03-14", dt.date(2027, 3, 15), False),
    ("02-29", dt.date(2027, 2, 28), True),   # not a leap year: the 28th
    ("02-29", dt.date(2028, 2, 28), False),  # a leap year: the 29th itself
    ("02-29", dt.date(2028, 2, 29), True),
    ("02-28", dt.date(2027, 2, 28), True),
])
def test_whose_day_it_is(day: str, date: dt.date, expected: bool) -> None:
    assert falls_on(day, date) is expected


def test_the_time_chart_bucket_grows_with_the_campaign() -> None:
    hour, day = 3_600_000, 86_400_000
    assert [bucket_for(s) for s in (0, 3 * hour, 3 * hour + 1, 7 * day, 8 * day)] == [
        60_000, 60_000, hour, hour, day]


async def test_greetings_by_an_attribute_date_once_a_year(tmp_path: Path) -> None:
    shop = await Shop.open(tmp_path)
    try:
        await add_customer(shop.db, "ann", name="Ann", attributes={"member_since": "2019-06-01"},
                           marketing_consent=True)
        await add_customer(shop.db, "bob", name="Bob", attributes={"member_since": "06-02"}, marketing_consent=True)
        await add_customer(shop.db, "cid", name="Cid", attributes={"member_since": "soon"}, marketing_consent=True)
        await shop.campaign(kind="greeting", title="Thanks for {{ customer.first_name }}'s years with us", body="b",
                            recurring={"date_field": "attributes.member_since", "local_time": "10:00"})
        await shop.broadcast.reload_all()

        def on(moment: str) -> int:
            return int(dt.datetime.fromisoformat(moment).timestamp() * 1000)

        for moment, greeted in (("2030-06-01T09:59:00+00:00", 0), ("2030-06-01T10:00:00+00:00", 1),
                                ("2030-06-01T22:00:00+00:00", 0), ("2030-06-02T11:00:00+00:00", 1),
                                ("2031-06-01T10:30:00+00:00", 1)):
            shop.greetings.clock = lambda moment=moment: on(moment)
            assert await shop.greetings.greet_due() == greeted, moment
        assert await shop.titles("ann") == ["Thanks for Ann's years with us"] * 2
        assert await shop.titles("bob") == ["Thanks for Bob's years with us"]
        assert await shop.titles("cid") == []
    finally:
        await shop.close()


async def test_reach_splits_the_reached_from_the_capped(tmp_path: Path) -> None:
    shop = await Shop.open(tmp_path)
    try:
        ids = [await add_customer(shop.db, name, name=name, marketing_consent=consent)
               for name, consent in (("ann", True), ("bob", True), ("cid", False))]
        earlier = Draft(kind="news", marketing=True, title="earlier", body="b", dedupe_key="earlier")
        assert await shop.inbox.deliver([(ids[0], earlier)]) == 1
        week = now_ms() - 7 * 86_400_000
        reach = await shop.audience.reach(ids, Everyone(), caps=[(5, week), (1, week)], dedupe_key="k")
        assert ([c.external_id for c in reach.eligible], reach.capped) == (["bob"], [ids[0]])
        anyone = await shop.audience.reach(ids, Everyone(), caps=[], dedupe_key="k", consent_required=False)
        assert sorted(c.external_id for c in anyone.eligible) == ["ann", "bob", "cid"] and anyone.capped == []
    finally:
        await shop.close()
