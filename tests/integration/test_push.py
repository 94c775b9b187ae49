"""The push engine end to end, on one process and on two sharing Redis: orders, campaigns, segments,
consent, caps, vouchers, triggers, tracking, through the real API and real sockets."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.settings import Settings
from tests.support.live import LiveServer, ProcessServer, test_settings
from tests.support.redis_server import RedisServer
from tests.support.shop import Shop, notifications


@pytest.fixture(params=["one process", "two processes"])
def topology(request: pytest.FixtureRequest) -> str:
    """Each test runs on one process, then on two sharing Redis and the store: the API on the
    first, customers' browsers on each in turn (a customer's later tab may be on the other)."""
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path, topology: str, request: pytest.FixtureRequest) -> Settings:
    if topology == "one process":
        return test_settings(tmp_path)
    redis: RedisServer = request.getfixturevalue("redis_server")
    return test_settings(tmp_path, redis_url=redis.url)


@pytest.fixture
async def shop(server: LiveServer, settings: Settings, topology: str) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    other = await asyncio.to_thread(ProcessServer(settings).start) if topology == "two processes" else None
    client = Shop(server, token, browsers=[server, other] if other else [server])
    try:
        yield client
    finally:
        await client.close()
        if other is not None:
            await asyncio.to_thread(other.stop)


async def test_order_updates_reach_the_customer_live_and_later(shop: Shop) -> None:
    await shop.customer("u1", name="Ann Lee", marketing_consent=False)  # transactional: consent not needed
    ann = await shop.browser("u1")
    posted = await shop.call("POST", "/api/v1/orders/events", 201, json={
        "customer_id": "u1", "order_id": "O-1", "status": "shipped", "text": "Your parcel is on its way",
        "url": "https://shop.example/orders/O-1"})
    assert posted == {"stored": True}
    got = await ann.wait_type("notification", kind="order")
    assert got["body"] == "Your parcel is on its way" and got["data"] == {"order_id": "O-1", "status": "shipped"}
    assert got["marketing"] is False

    # The same event again is not sent twice.
    again = await shop.call("POST", "/api/v1/orders/events", 201, json={
        "customer_id": "u1", "order_id": "O-1", "status": "shipped", "text": "Your parcel is on its way"})
    assert again == {"stored": False}

    # While away, the next update waits in the inbox; reconnecting from the cursor gets just that.
    cursor = got["seq"]
    await ann.close()
    await shop.call("POST", "/api/v1/orders/events", 201, json={
        "customer_id": "u1", "order_id": "O-1", "status": "delivered", "text": "Delivered!"})
    back = await shop.browser("u1", inbox=cursor)
    assert [n["body"] for n in notifications(back)] == ["Delivered!"]

    # A new device (no cursor) gets the whole unexpired inbox.
    fresh = await shop.browser("u1")
    assert [n["body"] for n in notifications(fresh)] == ["Your parcel is on its way", "Delivered!"]

    # Unknown customer: a clear error, nothing stored.
    err = await shop.call("POST", "/api/v1/orders/events", 404, json={
        "customer_id": "nobody", "order_id": "O-9", "status": "shipped", "text": "x"})
    assert err["code"] == "not_found"


async def test_a_broadcast_is_personalised_per_customer(shop: Shop) -> None:
    await shop.customer("u1", name="Ann Lee", loyalty_points=120)
    await shop.customer("u2", name="Bob Stone", loyalty_points=7)
    ann, bob = await shop.browser("u1"), await shop.browser("u2")
    await shop.campaign(title="Hi {{ customer.first_name }}!", body="You have {{ customer.loyalty_points }} points")
    a = await ann.wait_type("notification", kind="offer")
    b = await bob.wait_type("notification", kind="offer")
    assert (a["title"], a["body"]) == ("Hi Ann!", "You have 120 points")
    assert (b["title"], b["body"]) == ("Hi Bob!", "You have 7 points")
    assert a["marketing"] is True and a["campaign_id"] == b["campaign_id"]
    # Exactly once, even with a second tab open.
    ann2 = await shop.browser("u1")
    await ann.quiet(0.3)
    assert len(notifications(ann, "offer")) == 1 and len(notifications(ann2, "offer")) == 1


async def test_a_segment_offer_reaches_members_only(shop: Shop) -> None:
    await shop.customer("gold1", name="Gia", tier="gold", tags=["vip"])
    await shop.customer("silver1", name="Sam", tier="silver")
    segment = await shop.call("POST", "/api/v1/segments", 201, json={
        "name": "gold vips", "rules": {"all": [{"field": "tier", "op": "eq", "value": "gold"},
                                               {"field": "tags", "op": "has_tag", "value": "vip"}]}})
    assert segment["members"] == 1
    members = await shop.call("GET", f"/api/v1/segments/{segment['id']}/members", 200)
    assert [c["external_id"] for c in members["customers"]] == ["gold1"]
    gia, sam = await shop.browser("gold1"), await shop.browser("silver1")
    await shop.campaign(audience={"type": "segment", "segment_id": segment["id"]}, title="For our gold members")
    assert (await gia.wait_type("notification"))["title"] == "For our gold members"
    await sam.quiet(0.5)
    assert notifications(sam) == []


async def test_opted_out_customers_get_order_updates_but_never_offers(shop: Shop) -> None:
    await shop.customer("out", name="Olga", marketing_consent=False)
    olga = await shop.browser("out")
    await shop.campaign(title="Big sale")
    await shop.call("POST", "/api/v1/orders/events", 201, json={
        "customer_id": "out", "order_id": "O-7", "status": "paid", "text": "Thanks for your order"})
    await olga.wait_type("notification", kind="order")
    await olga.quiet(0.3)
    assert [n["kind"] for n in notifications(olga)] == ["order"]
    # Nor on a later visit.
    again = await shop.browser("out")
    assert [n["kind"] for n in notifications(again)] == ["order"]
    # Opting in later: the still-running campaign reaches them at their next visit.
    await shop.customer("out", marketing_consent=True)
    later = await shop.browser("out")
    assert "offer" in [n["kind"] for n in notifications(later)]


async def test_absent_customers_get_unexpired_offers_on_connect_but_not_expired_ones(shop: Shop) -> None:
    await shop.customer("away", name="Ada")
    await shop.customer("here", name="Hal")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    hal = await shop.browser("here")
    short = await shop.campaign(title="Flash sale", expires_at=soon.isoformat())
    lasting = await shop.campaign(title="Weekly offer", expires_at=later.isoformat())
    assert {n["title"] for n in [await hal.wait_type("notification"), await hal.wait_type("notification")]} == {
        "Flash sale", "Weekly offer"}
    await hal.close()
    await asyncio.sleep(2.0)  # the flash sale expires
    ada = await shop.browser("away")
    assert [n["title"] for n in notifications(ada)] == ["Weekly offer"]
    # Hal's stored flash-sale notification is not replayed after it expired either.
    hal_again = await shop.browser("here")
    assert [n["title"] for n in notifications(hal_again)] == ["Weekly offer"]
    assert short["id"] != lasting["id"]


async def test_the_daily_frequency_cap(tmp_path: Path) -> None:
    live = await LiveServer(test_settings(tmp_path, frequency_cap_per_day=2)).start()
    try:
        _key, token = await live.node.shop_keys.create("shop", ["*"])
        shop = Shop(live, token)
        await shop.customer("u1", name="Ann")
        ann = await shop.browser("u1")
        for i in range(3):
            await shop.campaign(title=f"offer {i}")
        await ann.wait_type("notification")
        await ann.wait_type("notification")
        await ann.quiet(0.5)
        assert len(notifications(ann, "offer")) == 2
        # Order updates are not marketing: not capped.
        await shop.call("POST", "/api/v1/orders/events", 201, json={
            "customer_id": "u1", "order_id": "O1", "status": "paid", "text": "paid"})
        await ann.wait_type("notification", kind="order")
        await shop.close()
    finally:
        await live.stop()


async def test_the_cap_holds_when_campaigns_start_at_once(tmp_path: Path) -> None:
    # Several campaigns started together race to each customer; the cap is decided in the
    # store's write transaction, so only the first one in wins, and no voucher is left behind.
    live = await LiveServer(test_settings(tmp_path, frequency_cap_per_day=1)).start()
    try:
        _key, token = await live.node.shop_keys.create("shop", ["*"])
        shop = Shop(live, token)
        tabs = []
        for i in range(6):
            await shop.customer(f"u{i}", name=f"Customer {i}")
            tabs.append(await shop.browser(f"u{i}"))
        drafts = [await shop.campaign(send=False, title=f"offer {n}", voucher={"kind": "percent", "amount": 10})
                  for n in range(8)]
        await asyncio.gather(*(shop.call("POST", f"/api/v1/campaigns/{d['id']}/send", 200, json={}) for d in drafts))
        for tab in tabs:
            await tab.wait_type("notification")
            await tab.quiet(0.5)
            assert len(notifications(tab, "offer")) == 1
        counts = await live.node.db.fetchall(
            "SELECT customer_id, COUNT(*) AS n FROM notifications WHERE marketing = 1 GROUP BY customer_id")
        assert sorted(r["n"] for r in counts) == [1] * 6
        vouchers = await live.node.db.fetchone("SELECT COUNT(*) AS n FROM vouchers")
        assert vouchers is not None and vouchers["n"] == 6
        await shop.close()
    finally:
        await live.stop()


async def test_vouchers_are_unique_and_redeem_once(shop: Shop) -> None:
    await shop.customer("u1", name="Ann")
    await shop.customer("u2", name="Bob")
    ann, bob = await shop.browser("u1"), await shop.browser("u2")
    campaign = await shop.campaign(
        title="{{ voucher.amount | int }}% off", body="Use {{ voucher.code }} by {{ voucher.expires_on }}",
        voucher={"kind": "percent", "amount": 15, "valid_days": 30})
    a, b = await ann.wait_type("notification"), await bob.wait_type("notification")
    code_a, code_b = a["voucher"]["code"], b["voucher"]["code"]
    assert code_a != code_b and re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code_a)
    assert a["title"] == "15% off" and code_a in a["body"]
    # What went out live (built from the draft) is what the store holds: a replay reads it back.
    replayed = notifications(await shop.browser("u1", inbox=0))
    assert replayed == [a]

    shop_http = shop.call
    redeemed = await shop_http("POST", f"/api/v1/vouchers/{code_a}/redeem", 200, json={"order_id": "O-1"})
    assert redeemed["redeemed_order"] == "O-1"
    same = await shop_http("POST", f"/api/v1/vouchers/{code_a}/redeem", 200, json={"order_id": "O-1"})
    assert same["redeemed_at"] == redeemed["redeemed_at"]  # idempotent for the same order
    refused = await shop_http("POST", f"/api/v1/vouchers/{code_a}/redeem", 409, json={"order_id": "O-2"})
    assert refused["code"] == "conflict" and "O-1" in refused["detail"]
    assert (await shop_http("POST", "/api/v1/vouchers/NOPE-NOPE-NOPE/redeem", 404, json={"order_id": "x"}))[
        "code"] == "not_found"

    # The customer sees their active vouchers (Bob's still active, Ann's used).
    from tests.support.shop import customer_token

    me = await shop.http.get("/api/v1/me/vouchers", headers={"Authorization": f"Bearer {customer_token('u2')}"})
    assert [v["code"] for v in me.json()["vouchers"]] == [code_b]
    me = await shop.http.get("/api/v1/me/vouchers", headers={"Authorization": f"Bearer {customer_token('u1')}"})
    assert me.json()["vouchers"] == []
    stats = await shop_http("GET", f"/api/v1/campaigns/{campaign['id']}/stats", 200)
    assert stats["recipients"] == 2 and stats["redeemed"] == 1


async def test_tracking_counts_each_action_once(shop: Shop) -> None:
    await shop.customer("u1", name="Ann")
    ann = await shop.browser("u1")
    campaign = await shop.campaign(title="News", kind="news")
    seq = (await ann.wait_type("notification"))["seq"]
    for action in ("delivered", "opened", "opened", "clicked"):
        await ann.send(type="notification.track", seq=seq, action=action)
    await ann.send(type="notification.track", seq=seq + 100, action="opened")
    assert (await ann.wait_type("error"))["code"] == "not_found"
    stats = await shop.call("GET", f"/api/v1/campaigns/{campaign['id']}/stats", 200)
    counts = {k: stats[k] for k in ("recipients", "delivered", "opened", "clicked", "dismissed", "redeemed")}
    assert counts == {"recipients": 1, "delivered": 1, "opened": 1, "clicked": 1, "dismissed": 0, "redeemed": 0}
    assert (stats["audience"], stats["eligible"], stats["waiting"]) == (1, 1, 0)
    history = await shop.call("GET", "/api/v1/customers/u1/notifications", 200)
    assert history["notifications"][0]["actions"] == ["clicked", "delivered", "opened"]


async def test_page_and_event_triggers(tmp_path: Path) -> None:
    live = await LiveServer(test_settings(tmp_path, frequency_cap_per_day=10)).start()
    try:
        _key, token = await live.node.shop_keys.create("shop", ["*"])
        shop = Shop(live, token)
        await _triggers(shop)
        await shop.close()
    finally:
        await live.stop()


async def _triggers(shop: Shop) -> None:
    await shop.customer("u1", name="Ann")
    ann = await shop.browser("u1")
    await shop.campaign(title="Need help checking out?", trigger={"type": "page", "url_pattern": "*/checkout*"})
    await shop.campaign(title="Matching socks?", trigger={"type": "event", "event": "added_to_cart",
                                                          "where": {"sku": "SHOE-1"}})
    await shop.campaign(title="Thanks, here's 5%", trigger={"type": "event", "event": "purchased", "repeat": True})
    await ann.quiet(0.3)
    assert notifications(ann) == []  # triggered campaigns wait for their trigger

    await ann.send(type="page.view", url="https://shop.example/products/1")
    await ann.send(type="page.view", url="https://shop.example/checkout/step-1")
    assert (await ann.wait_type("notification"))["title"] == "Need help checking out?"
    await ann.send(type="page.view", url="https://shop.example/checkout/step-2")  # at most once
    await ann.send(type="track", name="added_to_cart", props={"sku": "HAT-9"})  # no match
    await ann.send(type="track", name="added_to_cart", props={"sku": "SHOE-1", "qty": 1})
    assert (await ann.wait_type("notification"))["title"] == "Matching socks?"
    # From the shop's back end, and repeatable.
    for _ in range(2):
        await shop.call("POST", "/api/v1/events", 202, json={"customer_id": "u1", "name": "purchased"})
    await ann.wait_for(lambda f: f["type"] == "notification" and f["title"].startswith("Thanks"))
    await ann.wait_for(lambda f: f["type"] == "notification" and f["title"].startswith("Thanks"))
    await ann.quiet(0.3)
    assert [n["title"] for n in notifications(ann)].count("Need help checking out?") == 1
    assert [n["title"] for n in notifications(ann)].count("Matching socks?") == 1


async def test_time_on_page_trigger(shop: Shop) -> None:
    await shop.customer("u1", name="Ann")
    ann = await shop.browser("u1")
    await shop.campaign(title="Still deciding?", trigger={"type": "page", "url_pattern": "*/product/*",
                                                          "min_seconds": 1})
    await ann.send(type="page.view", url="https://shop.example/product/1")
    await asyncio.sleep(0.3)
    await ann.send(type="page.view", url="https://shop.example/cart")  # left before a second
    await ann.quiet(1.2)
    assert notifications(ann) == []
    await ann.send(type="page.view", url="https://shop.example/product/2")
    assert (await ann.wait_type("notification", timeout=3))["title"] == "Still deciding?"


async def test_scheduled_campaign_starts_on_time(tmp_path: Path) -> None:
    live = await LiveServer(test_settings(tmp_path, scheduler_interval=0.1)).start()
    try:
        _key, token = await live.node.shop_keys.create("shop", ["*"])
        shop = Shop(live, token)
        await shop.customer("u1", name="Ann")
        ann = await shop.browser("u1")
        created = await shop.campaign(send=False, title="Good morning")
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        scheduled = await shop.call("POST", f"/api/v1/campaigns/{created['id']}/send", 200,
                                    json={"send_at": at.isoformat()})
        assert scheduled["status"] == "scheduled"
        await ann.quiet(0.5)
        assert notifications(ann) == []
        got = await ann.wait_type("notification", timeout=3)
        assert got["title"] == "Good morning"
        assert (await shop.call("GET", f"/api/v1/campaigns/{created['id']}", 200))["status"] == "active"
        await shop.close()
    finally:
        await live.stop()


async def test_templates_are_checked_before_sending_and_previewed(shop: Shop) -> None:
    await shop.customer("u1", name="Ann Lee", loyalty_points=42)
    for title, why in (("Hi {{ customer.name", "syntax"), ("Hi {{ password }}", "unknown variable"),
                       ("{{ voucher.code }}", "voucher"), ("{{ customer.__class__ }}", "")):
        err = await shop.call("POST", "/api/v1/campaigns", None, json={
            "name": "x", "kind": "news", "audience": {"type": "all"}, "title": title, "body": "b"})
        assert err.get("code") == "invalid_request", (title, err)
        assert why in err["detail"]
    draft = await shop.campaign(send=False, title="Hi {{ customer.first_name }}",
                                body="{{ customer.loyalty_points }} points")
    preview = await shop.call("POST", f"/api/v1/campaigns/{draft['id']}/preview", 200, json={"customer_id": "u1"})
    notification = preview.pop("notification")
    assert preview == {"customer_id": "u1", "title": "Hi Ann", "body": "42 points", "in_audience": True,
                       "marketing_consent": True, "held_back": None}
    assert (notification["title"], notification["body"], notification["kind"]) == ("Hi Ann", "42 points", "offer")
    assert (await shop.call("POST", f"/api/v1/campaigns/{draft['id']}/preview", 404,
                            json={"customer_id": "nobody"}))["code"] == "not_found"


async def test_segment_rules_are_validated_and_lapsed_is_built_in(shop: Shop) -> None:
    day = 86_400
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=120 * day)
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5 * day)
    await shop.customer("lapsed", name="Lea", last_order_at=old.isoformat(), total_spent=300)
    await shop.customer("active", name="Art", last_order_at=recent.isoformat(), total_spent=30)
    await shop.customer("never", name="Nev")
    lapsed = await shop.call("GET", "/api/v1/segments/builtin/lapsed?days=90", 200)
    assert [c["external_id"] for c in lapsed["customers"]] == ["lapsed"]
    spent = await shop.call("POST", "/api/v1/segments/preview", 200, json={"rules": {
        "any": [{"field": "total_spent", "op": "gt", "value": 100}, {"field": "name", "op": "eq", "value": "Nev"}]}})
    assert sorted(c["external_id"] for c in spent["customers"]) == ["lapsed", "never"]
    for bad in ({"field": "password", "op": "eq", "value": 1}, {"field": "tier", "op": "gt", "value": "a"},
                {"field": "tags", "op": "eq", "value": "x"}, {"all": []}, {"field": "tier", "op": "in", "value": []},
                {"field": "tier", "op": "eq", "value": "x", "all": [{"field": "tier", "op": "exists"}]}):
        err = await shop.call("POST", "/api/v1/segments/preview", 422, json={"rules": bad})
        assert err["code"] == "invalid_request" and "rule" in err["detail"]
    # A win-back campaign to the built-in lapsed audience.
    lea, art = await shop.browser("lapsed"), await shop.browser("active")
    await shop.campaign(audience={"type": "lapsed", "days": 90}, title="We miss you")
    assert (await lea.wait_type("notification"))["title"] == "We miss you"
    await art.quiet(0.3)
    assert notifications(art) == []


async def test_bulk_import_reports_bad_lines_and_imports_the_rest(shop: Shop, settings: Settings) -> None:
    lines = "\n".join([
        '{"id": "b1", "name": "One", "tier": "gold", "marketing_consent": true}',
        '{"id": "b2", "loyalty_points": -5}',
        "not json",
        '{"id": "b3", "timezone": "Europe/Oslo", "tags": ["a", "b"]}',
        '{"name": "no id"}',
    ])
    result = await shop.call("POST", "/api/v1/customers/import", 200, content=lines,
                             headers={"Content-Type": "application/x-ndjson"})
    assert (result["created"], result["updated"]) == (2, 0)
    assert [e["line"] for e in result["errors"]] == [2, 3, 5]
    assert "loyalty_points" in result["errors"][0]["reason"]
    assert (await shop.call("GET", "/api/v1/customers/b3", 200))["timezone"] == "Europe/Oslo"
    csv_text = "id,name,loyalty_points,tags,marketing_consent\nb1,One Again,10,x|y,yes\nc1,New,notanumber,,no\n"
    result = await shop.call("POST", "/api/v1/customers/import", 200, content=csv_text,
                             headers={"Content-Type": "text/csv"})
    assert (result["created"], result["updated"], [e["line"] for e in result["errors"]]) == (0, 1, [3])
    b1 = await shop.call("GET", "/api/v1/customers/b1", 200)
    assert (b1["name"], b1["loyalty_points"], b1["tags"], b1["tier"]) == ("One Again", 10, ["x", "y"], "gold")
    too_big = "x" * (settings.max_bulk_bytes + 1)
    err = await shop.call("POST", "/api/v1/customers/import", 413, content=too_big,
                          headers={"Content-Type": "text/csv"})
    assert err["code"] == "too_long"
    err = await shop.call("POST", "/api/v1/customers/import", 422, content="{}",
                          headers={"Content-Type": "application/json"})
    assert err["code"] == "invalid_request"


async def test_api_keys_are_scoped_and_revocable(server: LiveServer) -> None:
    key, token = await server.node.shop_keys.create("orders only", ["orders"])
    limited = Shop(server, token)
    err = await limited.call("PUT", "/api/v1/customers/u1", 403, json={"name": "x"})
    assert err["code"] == "forbidden"
    await server.node.shop_keys.revoke(key.id)
    assert (await limited.call("POST", "/api/v1/orders/events", 401, json={
        "customer_id": "u1", "order_id": "o", "status": "s", "text": "t"}))["code"] == "unauthorized"
    forged = Shop(server, token[:-2] + "xx")
    assert (await forged.call("GET", "/api/v1/campaigns", 401))["code"] == "unauthorized"
    await limited.close()
    await forged.close()


async def test_an_identified_customer_is_greeted_with_what_the_shop_told(shop: Shop) -> None:
    await shop.customer("u7", name="Ann Lee", loyalty_points=1250, tier="gold")
    ann = await shop.browser("u7")
    assert ann.welcome["profile"] == {
        "name": "Ann Lee", "loyalty_points": 1250, "tier": "gold", "marketing_consent": True,
    }
    # The shop's change is seen at the next connect.
    await shop.customer("u7", loyalty_points=1300)
    again = await shop.browser("u7")
    assert again.welcome["profile"]["loyalty_points"] == 1300
