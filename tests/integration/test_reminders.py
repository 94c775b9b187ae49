"""Personal reminders end to end: fired at the customer's local time, live or at their next visit,
validated at the API, and exactly once with two server processes sharing one SQLite file."""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import sqlite3
import time
import zoneinfo
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import LiveServer, ProcessServer, test_settings
from tests.support.redis_server import RedisServer
from tests.support.shop import Shop, browser, notifications


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path, scheduler_interval=0.2)


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    client = Shop(server, token)
    yield client
    await client.close()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def whole_second_in(seconds: int) -> int:
    """A UTC instant (ms) on a whole second, `seconds` to `seconds + 1` from now."""
    return (now_ms() // 1000 + seconds + 1) * 1000


def local(at_ms: int, zone: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(at_ms / 1000, zoneinfo.ZoneInfo(zone))


def same_date_next_year(when: dt.datetime) -> dt.datetime:
    """The same local date and time a year later: February 29 falls on February 28 in a year
    without it (docs/architecture.md, Reminders). A time a spring-forward jump skips keeps
    fold=0, as the server does."""
    day = 28 if (when.month, when.day) == (2, 29) and not calendar.isleap(when.year + 1) else when.day
    return when.replace(year=when.year + 1, day=day)


def once_at(at_ms: int, zone: str, **fields: Any) -> dict[str, Any]:
    """A one-time reminder body firing at the instant `at_ms`, written as the customer's local date and time."""
    when = local(at_ms, zone)
    return {"repeat": "once", "year": when.year, "month": when.month, "day": when.day,
            "local_time": when.strftime("%H:%M:%S"), **fields}


async def reminder_list(shop: Shop, external_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await shop.call("GET", f"/api/v1/customers/{external_id}/reminders", 200))[
        "reminders"]
    return found


async def wait_fired(shop: Shop, external_id: str, timeout: float = 8.0) -> list[dict[str, Any]]:
    """The customer's reminders once every one has fired at least once (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        reminders = await reminder_list(shop, external_id)
        if reminders and all(r["last_fired_at"] is not None for r in reminders):
            return reminders
        assert time.monotonic() < deadline, f"not fired within {timeout}s: {reminders}"
        await asyncio.sleep(0.1)


async def test_a_connected_customer_gets_it_at_their_local_time_exactly_once(
    shop: Shop, server: LiveServer
) -> None:
    # Kathmandu is UTC+05:45: a local time read as UTC would fire hours off.
    await shop.customer("u1", name="Ann Lee", timezone="Asia/Kathmandu", marketing_consent=False)
    ann = await shop.browser("u1")
    due = whole_second_in(2)
    created = await shop.call("POST", "/api/v1/customers/u1/reminders", 201, json=once_at(
        due, "Asia/Kathmandu", name="Membership renewal",
        title="{{ customer.first_name }}, your membership renews today", body="Thanks for staying with us"))
    assert created["next_fire_at"] == due and created["customer_id"] == "u1" and created["last_fired_at"] is None

    got = await ann.wait_type("notification", kind="reminder", timeout=6)
    received = now_ms()
    assert received >= due, f"fired {due - received} ms early"
    assert got["title"] == "Ann, your membership renews today" and got["body"] == "Thanks for staying with us"
    # The customer's own date: transactional, so it reaches them without marketing consent.
    assert got["marketing"] is False
    assert got["data"] == {"reminder_id": created["id"], "name": "Membership renewal"}

    await ann.quiet(0.8)  # four more scheduler runs
    assert len(notifications(ann, "reminder")) == 1
    [after] = await reminder_list(shop, "u1")
    assert after["next_fire_at"] is None and due <= after["last_fired_at"] <= received
    row = await server.node.db.fetchone(
        "SELECT COUNT(*) AS n, MIN(dedupe_key) AS key FROM notifications WHERE kind = 'reminder'")
    assert row is not None and row["n"] == 1 and row["key"] == f"reminder:{created['id']}:{due}"
    # A new tab replays the inbox: the same single reminder, not a second one.
    again = await shop.browser("u1")
    assert [n["seq"] for n in notifications(again, "reminder")] == [got["seq"]]


async def test_an_away_customer_gets_it_on_their_next_visit_and_yearly_moves_on(shop: Shop) -> None:
    zone = "America/New_York"
    await shop.customer("u2", name="Bob Stone", timezone=zone, loyalty_points=42)
    due = whole_second_in(1)
    when = local(due, zone)
    created = await shop.call("POST", "/api/v1/customers/u2/reminders", 201, json={
        "name": "Birthday", "month": when.month, "day": when.day, "local_time": when.strftime("%H:%M:%S"),
        "title": "Happy birthday, {{ customer.first_name }}!", "body": "{{ customer.loyalty_points }} points"})
    assert created["repeat"] == "yearly" and created["year"] is None and created["next_fire_at"] == due

    [fired] = await wait_fired(shop, "u2")
    # Next year, same wall-clock time in New York.
    assert fired["next_fire_at"] == int(same_date_next_year(when).timestamp()) * 1000

    bob = await shop.browser("u2")
    [reminder] = notifications(bob, "reminder")
    assert (reminder["title"], reminder["body"]) == ("Happy birthday, Bob!", "42 points")
    # Back from his cursor: nothing new, nothing repeated.
    await bob.close()
    back = await shop.browser("u2", inbox=reminder["seq"])
    await back.quiet(0.5)
    assert notifications(back, "reminder") == []


async def test_a_deleted_reminder_never_fires(shop: Shop) -> None:
    await shop.customer("u3", name="Cy", timezone="Europe/Berlin")
    cy = await shop.browser("u3")
    due = whole_second_in(1)
    keep = await shop.call("POST", "/api/v1/customers/u3/reminders", 201,
                           json=once_at(due, "Europe/Berlin", name="kept", title="kept", body="kept"))
    gone = await shop.call("POST", "/api/v1/customers/u3/reminders", 201,
                           json=once_at(due, "Europe/Berlin", name="gone", title="gone", body="gone"))
    assert (await shop.call("DELETE", f"/api/v1/reminders/{gone['id']}", 204)).content == b""
    assert [r["id"] for r in await reminder_list(shop, "u3")] == [keep["id"]]
    assert (await cy.wait_type("notification", kind="reminder", timeout=6))["title"] == "kept"
    await cy.quiet(0.6)
    assert [n["title"] for n in notifications(cy, "reminder")] == ["kept"]
    again = await shop.call("DELETE", f"/api/v1/reminders/{gone['id']}", 404)
    assert again["code"] == "not_found"


async def test_a_customer_who_moves_west_gets_it_at_the_new_local_time_not_the_old(shop: Shop) -> None:
    # Set for 12:00:0x in Berlin (UTC+1 in winter); then the customer moves to London (UTC+0):
    # the same local time there is an hour later, so nothing fires at the old instant.
    await shop.customer("u5", name="Eve", timezone="Europe/Berlin")
    eve = await shop.browser("u5")
    due = whole_second_in(1)
    created = await shop.call("POST", "/api/v1/customers/u5/reminders", 201,
                              json=once_at(due, "Europe/Berlin", name="call", title="Call us", body="today"))
    await shop.customer("u5", timezone="Europe/London")
    await asyncio.sleep((due - now_ms()) / 1000 + 1.0)  # past the old instant, five scheduler runs
    await eve.quiet(0.2)
    assert notifications(eve, "reminder") == []
    [moved] = await reminder_list(shop, "u5")
    offset = int(local(due, "Europe/Berlin").utcoffset().total_seconds() - local(due, "Europe/London").utcoffset()
                 .total_seconds()) * 1000  # fmt: skip
    assert moved["id"] == created["id"] and moved["last_fired_at"] is None
    assert moved["next_fire_at"] == due + offset
    assert local(moved["next_fire_at"], "Europe/London").strftime("%H:%M:%S") == local(due, "Europe/Berlin").strftime(
        "%H:%M:%S")


async def test_the_api_refuses_what_cannot_fire(shop: Shop, server: LiveServer) -> None:
    await shop.customer("u4", name="Dee", timezone="Australia/Sydney")
    path = "/api/v1/customers/u4/reminders"
    base = {"name": "Anniversary", "month": 6, "day": 1, "title": "Hi", "body": "Today"}

    async def refused(status: int, detail: str, **fields: Any) -> None:
        problem = await shop.call("POST", path, status, json={**base, **fields})
        assert problem["code"] == ("invalid_request" if status == 422 else "not_found"), problem
        assert detail in problem["detail"], problem

    await refused(422, "February 30 is not a date", month=2, day=30)
    await refused(422, "February 29, 2027 is not a date", repeat="once", year=2027, month=2, day=29)
    await refused(422, "needs a `year`", repeat="once")
    await refused(422, "`year` is only for repeat `once`", year=2030)
    await refused(422, "$.local_time", local_time="25:00")
    last_year = dt.datetime.now(dt.UTC).year - 1
    await refused(422, f"{last_year:04d}-06-01 09:00 has already passed in the customer's time zone "
                       "(Australia/Sydney)", repeat="once", year=last_year)
    await refused(422, "title: template syntax error", title="{{ customer.first_name ")
    await refused(422, "body: unknown variable(s) voucher; reminders may use `customer` only",
                  body="Use {{ voucher.code }}")
    await refused(422, "unknown variable(s) campaign, order", title="{{ campaign.name }} {{ order }}")
    unknown = await shop.call("POST", "/api/v1/customers/nobody/reminders", 404, json=base)
    assert unknown["code"] == "not_found" and "no customer nobody" in unknown["detail"]
    assert (await shop.call("GET", "/api/v1/customers/nobody/reminders", 404))["code"] == "not_found"
    assert await reminder_list(shop, "u4") == []  # nothing refused was stored

    # Feb 29 yearly is accepted; a key without the `reminders` scope is not.
    leap = await shop.call("POST", path, 201, json={**base, "month": 2, "day": 29})
    assert local(leap["next_fire_at"], "Australia/Sydney").strftime("%m-%d %H:%M") in ("02-28 09:00", "02-29 09:00")
    _key, token = await server.node.shop_keys.create("orders only", ["orders"])
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {token}"}) as http:
        r = await http.get(path)
        assert r.status_code == 403 and r.json()["code"] == "forbidden"


async def test_exactly_once_with_two_processes_on_one_database(tmp_path: Path, redis_server: RedisServer) -> None:
    settings = test_settings(tmp_path, scheduler_interval=0.1, redis_url=redis_server.url)
    # Unequal intervals: the two schedulers' relative phase differs at each due instant below,
    # so they are raced in varied orders rather than always the same way.
    a = ProcessServer(settings).start()
    b = ProcessServer(msgspec.structs.replace(settings, scheduler_interval=0.13)).start()
    clients: list[WsClient] = []
    try:
        async with httpx.AsyncClient(base_url=a.base) as http:
            http.cookies.set("rapport_session", await a.login())
            made = await http.post("/api/v1/api-keys", json={"name": "shop", "scopes": ["reminders", "customers"]})
            assert made.status_code == 201, made.text
        shop = Shop(a, made.json()["token"])
        zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]
        ids = [f"c{i:02d}" for i in range(20)]
        zone_of = {cid: zones[i % len(zones)] for i, cid in enumerate(ids)}
        for i, cid in enumerate(ids):
            await shop.customer(cid, name=f"Name{i} Family", timezone=zone_of[cid], marketing_consent=i % 2 == 0)
        on_a, on_b, away = ids[:8], ids[8:16], ids[16:]
        clients = [await browser(a, cid) for cid in on_a] + [await browser(b, cid) for cid in on_b]

        # Five at each of four instants a second apart: both processes' schedulers wake for each
        # instant, so the claim is raced four times, not once.
        first = whole_second_in(2)
        due = {cid: first + (i % 4) * 1000 for i, cid in enumerate(ids)}
        created = await asyncio.gather(*(
            shop.call("POST", f"/api/v1/customers/{cid}/reminders", 201, json=once_at(
                due[cid], zone_of[cid], name="Renewal", title="{{ customer.first_name }}: renewal", body="today"))
            for cid in ids))
        assert [r["next_fire_at"] for r in created] == [due[cid] for cid in ids]
        assert now_ms() < first, "creating the reminders took too long for this test's timing"

        got = await asyncio.gather(*(c.wait_type("notification", kind="reminder", timeout=10) for c in clients))
        assert now_ms() >= max(due.values())
        for cid, frame in zip(on_a + on_b, got, strict=True):
            assert frame["title"] == f"Name{int(cid[1:])}: renewal"
        await asyncio.gather(*(c.quiet(0.6) for c in clients))
        assert [len(notifications(c, "reminder")) for c in clients] == [1] * 16

        with sqlite3.connect(settings.database_path) as db:
            per_customer = dict(db.execute(
                "SELECT c.external_id, COUNT(*) FROM notifications n JOIN customers c ON c.id = n.customer_id"
                " WHERE n.kind = 'reminder' GROUP BY c.external_id").fetchall())
            pending = db.execute(
                "SELECT COUNT(*) FROM reminders WHERE next_fire_at IS NOT NULL OR last_fired_at IS NULL").fetchone()[0]
        assert per_customer == dict.fromkeys(ids, 1)
        assert pending == 0

        # Those who were away get it, once, when they come back, on either process.
        for cid, server in zip(away, [a, b, a, b], strict=True):
            back = await browser(server, cid)
            clients.append(back)
            assert [n["title"] for n in notifications(back, "reminder")] == [f"Name{int(cid[1:])}: renewal"]
        await shop.close()
    finally:
        for client in clients:
            await client.close()
        a.stop()
        b.stop()
