"""What the studio's campaigns tab relies on, through the real API and real sockets: a recurring
birthday greeting through the scheduler on "their day" (an injected clock); pause, resume, stop and
duplicate; the consent class and the frequency cap with the held-back reasons; the CSV export with
a formula neutralised; problems naming their field; the placeholders and the customer search; and
an agent-role account refused on every studio route."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from server.api.routes import endpoints
from server.push import greetings
from tests.support.live import AGENT_PASSWORD, LiveServer
from tests.support.shop import Shop, notifications


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    client = Shop(server, token)
    try:
        yield client
    finally:
        await client.close()


def at(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


async def greetings_of(shop: Shop, user: str) -> list[str]:
    history = await shop.call("GET", f"/api/v1/customers/{user}/notifications", 200)
    return [n["title"] for n in history["notifications"] if n["kind"] == "greeting"]


async def test_a_birthday_greeting_fires_once_per_customer_on_their_day(server: LiveServer, shop: Shop) -> None:
    await shop.customer("ann", name="Ann Lee", birthday="1990-03-14", timezone="Europe/Berlin", tier="gold",
                        marketing_consent=False)
    await shop.customer("bob", name="Bob Stone", birthday="1985-03-15", tier="gold")
    await shop.customer("eve", name="Eve Leap", birthday="2000-02-29", tier="gold")
    await shop.customer("sam", name="Sam Silver", birthday="1990-03-14", tier="silver")  # outside the segment
    await shop.customer("nob", name="No Birthday", tier="gold")
    segment = await shop.call("POST", "/api/v1/segments", 201, json={
        "name": "Gold", "rules": {"field": "tier", "op": "eq", "value": "gold"}})
    # A draft greeting refuses to be anything but recurring; a transactional one reaches Ann without consent.
    refused = await shop.call("POST", "/api/v1/campaigns", 422, json={
        "name": "Birthday", "kind": "greeting", "audience": {"type": "all"}, "title": "t", "body": "b"})
    assert refused["field"] == "recurring"
    campaign = await shop.campaign(
        name="Birthday", kind="greeting", consent="transactional",
        audience={"type": "segment", "segment_id": segment["id"]},
        title="Happy birthday, {{ customer.first_name }}!", body="All the best from the shop.",
        recurring={"date_field": "birthday", "local_time": "09:00"})
    assert campaign["status"] == "active" and campaign["recurring"] == {"date_field": "birthday", "local_time": "09:00"}
    ann_socket = await shop.browser("ann")
    await ann_socket.quiet(0.3)
    assert notifications(ann_socket) == []  # connecting is not their day: a greeting is not a broadcast

    async def run_on(moment: str) -> None:
        server.node.greetings.clock = lambda: at(moment)
        await server.node.scheduler.run_once()

    await run_on("2027-03-13T12:00:00+00:00")
    await run_on("2027-03-14T07:30:00+00:00")  # 08:30 in Berlin: before the campaign's 09:00
    assert [await greetings_of(shop, u) for u in ("ann", "bob", "eve", "sam")] == [[], [], [], []]
    await run_on("2027-03-14T08:05:00+00:00")  # 09:05 in Berlin
    await run_on("2027-03-14T15:00:00+00:00")  # the same day again: not twice
    assert await greetings_of(shop, "ann") == ["Happy birthday, Ann!"]
    live = await ann_socket.wait_type("notification")
    assert live["kind"] == "greeting" and live["marketing"] is False
    assert await greetings_of(shop, "bob") == []
    await run_on("2027-03-15T09:30:00+00:00")
    await run_on("2027-03-15T23:59:00+00:00")
    assert await greetings_of(shop, "bob") == ["Happy birthday, Bob!"]
    assert await greetings_of(shop, "ann") == ["Happy birthday, Ann!"]
    await run_on("2027-02-28T10:00:00+00:00")  # February 29 falls on the 28th in 2027
    assert await greetings_of(shop, "eve") == ["Happy birthday, Eve!"]
    await run_on("2028-03-14T08:05:00+00:00")  # a year later: again, once
    await run_on("2028-03-14T09:05:00+00:00")
    assert await greetings_of(shop, "ann") == ["Happy birthday, Ann!", "Happy birthday, Ann!"]
    assert [await greetings_of(shop, u) for u in ("sam", "nob")] == [[], []]

    # Paused, nobody is greeted; resumed, the day's greetings go out.
    await shop.call("POST", f"/api/v1/campaigns/{campaign['id']}/pause", 200)
    await run_on("2028-03-15T09:30:00+00:00")
    assert await greetings_of(shop, "bob") == ["Happy birthday, Bob!"]
    await shop.call("POST", f"/api/v1/campaigns/{campaign['id']}/resume", 200)
    await server.node.broadcast.reload(campaign["id"])  # the resume hint may still be on its way
    await run_on("2028-03-15T09:31:00+00:00")
    assert await greetings_of(shop, "bob") == ["Happy birthday, Bob!", "Happy birthday, Bob!"]
    stats = await shop.call("GET", f"/api/v1/campaigns/{campaign['id']}/stats", 200)
    assert (stats["audience"], stats["no_consent"], stats["recipients"]) == (4, 0, 5)
    await ann_socket.close()


async def test_pause_resume_stop_and_duplicate(shop: Shop) -> None:
    await shop.customer("u1", name="Ann Lee")
    await shop.customer("u2", name="Bob Stone")
    ann = await shop.browser("u1")
    campaign = await shop.campaign(name="Spring", kind="news", title="Spring news",
                                   body="Hello {{ customer.first_name }}")
    first = await ann.wait_type("notification")
    assert first["body"] == "Hello Ann"
    paused = await shop.call("POST", f"/api/v1/campaigns/{campaign['id']}/pause", 200)
    assert paused["status"] == "paused" and paused["paused_at"]
    assert (await shop.call("POST", f"/api/v1/campaigns/{campaign['id']}/pause", 409))["code"] == "conflict"
    assert (await shop.call("POST", f"/api/v1/campaigns/{campaign['id']}/send", 409, json={}))["code"] == "conflict"
    bob = await shop.browser("u2")
    await bob.quiet(0.5)
    assert notifications(bob) == []  # paused: nothing on connect
    resumed = await shop.call("POST", f"/api/v1/campaigns/{campaign['id']}/resume", 200)
    assert resumed["status"] == "active" and resumed["paused_at"] is None
    assert (await bob.wait_type("notification"))["body"] == "Hello Bob"  # resumed: to whoever is connected
    stopped = await shop.call("POST", f"/api/v1/campaigns/{campaign['id']}/stop", 200)
    assert stopped["status"] == "stopped"
    assert (await shop.call("POST", f"/api/v1/campaigns/{campaign['id']}/resume", 409))["code"] == "conflict"

    # A sent (stopped) campaign is copied into a draft and sent again: everyone gets the copy once.
    copy = await shop.call("POST", f"/api/v1/campaigns/{campaign['id']}/duplicate", 201)
    assert (copy["name"], copy["status"], copy["copied_from"]) == ("Copy of Spring", "draft", campaign["id"])
    assert (copy["title"], copy["body"], copy["kind"]) == (campaign["title"], campaign["body"], "news")
    await shop.call("POST", f"/api/v1/campaigns/{copy['id']}/send", 200, json={})
    again = await ann.wait_type("notification")
    assert again["campaign_id"] == copy["id"] and again["seq"] == first["seq"] + 1
    await ann.quiet(0.3)
    assert [n["campaign_id"] for n in notifications(ann)] == [campaign["id"], copy["id"]]
    listed = await shop.call("GET", "/api/v1/campaigns", 200)
    assert [c["name"] for c in listed["campaigns"]] == ["Copy of Spring", "Spring"]
    assert [n["recipients"] for n in listed["counts"]] == [2, 2]
    await ann.close()
    await bob.close()


async def test_consent_class_frequency_cap_and_held_back_reasons(shop: Shop) -> None:
    await shop.customer("yes", name="Yes Consent")
    await shop.customer("no", name="No Consent", marketing_consent=False)
    await shop.customer("away", name="Away Person")
    yes, no = await shop.browser("yes"), await shop.browser("no")

    # An offer needs consent: a transactional one is refused, naming the field.
    problem = await shop.call("POST", "/api/v1/campaigns", 422, json={
        "name": "x", "kind": "offer", "consent": "transactional", "audience": {"type": "all"}, "title": "t",
        "body": "b"})
    assert problem["field"] == "consent"
    # Transactional news reaches the customer without consent.
    service = await shop.campaign(name="Opening hours", kind="news", consent="transactional", title="We open at 10",
                                  body="From Monday.")
    assert (await no.wait_type("notification"))["marketing"] is False
    stats = await shop.call("GET", f"/api/v1/campaigns/{service['id']}/stats", 200)
    assert (stats["audience"], stats["eligible"], stats["no_consent"], stats["recipients"], stats["waiting"]) == (
        3, 3, 0, 2, 1)

    # Marketing: the first offer reaches "yes"; the second, capped at one marketing push a week, holds them back.
    await shop.campaign(name="First", kind="offer", title="First offer", body="b")
    await yes.wait_type("notification", title="First offer")
    capped = await shop.campaign(name="Second", kind="offer", title="Second offer", body="b",
                                 frequency_cap={"max": 1, "days": 7})
    assert capped["frequency_cap"] == {"max": 1, "days": 7}
    await yes.quiet(0.5)
    assert [n["title"] for n in notifications(yes)] == ["We open at 10", "First offer"]
    stats = await shop.call("GET", f"/api/v1/campaigns/{capped['id']}/stats", 200)
    assert {k: stats[k] for k in ("audience", "eligible", "no_consent", "frequency_cap", "recipients", "waiting",
                                  "expired")} == {
        "audience": 3, "eligible": 2, "no_consent": 1, "frequency_cap": 1, "recipients": 0, "waiting": 1,
        "expired": 0}
    # Stopped, whoever it had not reached is counted as never reached, not as waiting.
    await shop.call("POST", f"/api/v1/campaigns/{capped['id']}/stop", 200)
    stats = await shop.call("GET", f"/api/v1/campaigns/{capped['id']}/stats", 200)
    assert (stats["waiting"], stats["expired"], stats["frequency_cap"]) == (0, 1, 1)
    await yes.close()
    await no.close()


async def test_results_csv_neutralises_formulas(shop: Shop) -> None:
    await shop.customer("evil", name='=HYPERLINK("https://evil.example","click")', email="evil@example.com")
    await shop.customer("ok", name="Plain Name")
    evil = await shop.browser("evil")
    campaign = await shop.campaign(name="Sale", title="Sale", body="{{ voucher.code }}",
                                   voucher={"kind": "percent", "amount": 10})
    got = await evil.wait_type("notification")
    await evil.send(type="notification.track", seq=got["seq"], action="opened")
    await evil.quiet(0.3)
    r = await shop.http.get(f"/api/v1/campaigns/{campaign['id']}/results.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="campaign-{campaign["id"]}.csv"' in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["customer_id", "name", "email", "status", "sent_at", "voucher_code", "delivered", "opened",
                       "clicked", "dismissed", "redeemed"]
    assert len(rows) == 2
    assert rows[1][:4] == ["evil", '\'=HYPERLINK("https://evil.example","click")', "evil@example.com", "sent"]
    assert rows[1][5] == got["voucher"]["code"] and rows[1][6:] == ["0", "1", "0", "0", "0"]
    await evil.close()


async def test_problems_name_their_field_and_the_composer_gets_its_lists(shop: Shop) -> None:
    base = {"name": "x", "kind": "news", "audience": {"type": "all"}, "title": "t", "body": "b"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**base, "audience": {"type": "lapsed"}}, "audience.days"),
        ({**base, "audience": {"type": "lapsed", "days": 0}}, "audience.days"),
        ({**base, "title": "{{ customer.nope }"}, "title"),
        ({**base, "body": "{{ voucher.code }}"}, "body"),
        ({**base, "name": ""}, "name"),
        ({**base, "frequency_cap": {"max": 0, "days": 7}}, "frequency_cap.max"),
        ({**base, "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({**base, "recurring": {"date_field": "shoe_size"}}, "recurring.date_field"),
    ]
    for body, field in cases:
        problem = await shop.call("POST", "/api/v1/campaigns", 422, json=body)
        assert problem["field"] == field, (body, problem)
    listed = (await shop.call("GET", "/api/v1/campaign-placeholders", 200))["placeholders"]
    names = {p["name"]: p for p in listed}
    assert names["customer.first_name"]["voucher_only"] is False and names["voucher.code"]["voucher_only"] is True

    await shop.customer("u_1", name="Ann Lee", email="ann@example.com")
    await shop.customer("u-2", name="Bob Annson", email="bob@example.com")
    await shop.customer("u-3", name="Cleo", email="cleo@example.com")
    found = await shop.call("GET", "/api/v1/customers?q=ann", 200)
    assert [c["external_id"] for c in found["customers"]] == ["u-2", "u_1"]
    assert [c["external_id"] for c in (await shop.call("GET", "/api/v1/customers?q=u_", 200))["customers"]] == ["u_1"]
    assert [c["name"] for c in (await shop.call("GET", "/api/v1/customers?q=cleo@", 200))["customers"]] == ["Cleo"]


STUDIO = ("/api/v1/campaigns", "/api/v1/campaign-placeholders", "/api/v1/segments", "/api/v1/customers")


async def test_an_agent_is_refused_on_every_studio_route(server: LiveServer) -> None:
    await server.add_agent("ben@shop.test", "Ben", role="agent")
    studio = [ep for ep in endpoints() if ep.path.startswith(STUDIO) and ep.access.kind == "shop"]
    assert len(studio) >= 15, [ep.path for ep in studio]
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as http:
        http.cookies.set("rapport_session", await server.login("ben@shop.test", AGENT_PASSWORD))
        for ep in studio:
            path = ep.path.replace("{campaign_id:str}", "cp_x").replace("{segment_id:str}", "sg_x")
            path = path.replace("{external_id:str}", "u1")
            r = await http.request(ep.method, path, json={} if ep.method in ("POST", "PUT", "PATCH") else None)
            assert r.status_code == 403 and r.json()["code"] == "forbidden", (ep.method, ep.path, r.status_code)


async def test_a_day_with_more_birthdays_than_a_page_greets_everyone(
    server: LiveServer, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(greetings, "PAGE", 2)  # five customers over three pages
    users = [f"c{n}" for n in range(5)]
    for user in users:
        await shop.customer(user, name=f"Cleo {user}", birthday="1991-06-01", timezone="UTC")
    campaign = await shop.campaign(
        name="Birthday", kind="greeting", consent="transactional", audience={"type": "all"},
        title="Happy birthday, {{ customer.first_name }}!", body="From the shop.",
        recurring={"date_field": "birthday", "local_time": "09:00"})
    assert campaign["status"] == "active"
    server.node.greetings.clock = lambda: at("2027-06-01T10:00:00+00:00")
    await server.node.scheduler.run_once()
    assert [await greetings_of(shop, u) for u in users] == [["Happy birthday, Cleo!"]] * 5
    await server.node.scheduler.run_once()  # and each once
    assert [len(await greetings_of(shop, u)) for u in users] == [1] * 5
