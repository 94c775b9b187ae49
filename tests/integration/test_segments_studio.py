"""The segments the studio builds, against a real server: the attribute catalogue the builder reads
(custom attributes as customers have them), behaviour Rapport sees (last seen, pages viewed,
vouchers redeemed) produced by real widget sockets and the shop's API, and the one body shape of
preview and create."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.settings import Settings
from tests.support.live import AGENT_PASSWORD, LiveServer, test_settings
from tests.support.shop import Shop


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Connected customers are stamped "seen" every tenth of a second (a quarter of this delay).
    return test_settings(tmp_path, mail_offline_reply_delay=0.4)


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    client = Shop(server, token)
    yield client
    await client.close()


async def preview(shop: Shop, rules: dict[str, Any], limit: int = 10) -> dict[str, Any]:
    found: dict[str, Any] = await shop.call("POST", f"/api/v1/segments/preview?limit={limit}", 200,
                                            json={"name": "draft", "rules": rules})
    return found


async def members(shop: Shop, rules: dict[str, Any]) -> list[str]:
    return sorted(c["external_id"] for c in (await preview(shop, rules))["customers"])


async def eventually(shop: Shop, rules: dict[str, Any], expected: list[str]) -> None:
    """Behaviour is stored as it happens (a page view, a stamp of who is on the site): polled."""
    for _ in range(100):
        if await members(shop, rules) == expected:
            return
        await asyncio.sleep(0.05)
    assert await members(shop, rules) == expected


async def test_the_catalogue_lists_every_field_with_its_operators_and_the_custom_attributes(
    server: LiveServer, shop: Shop
) -> None:
    await shop.customer("u1", name="Ann", tier="gold", tags=["vip"],
                        attributes={"shoe_size": 42, "newsletter": True, "colour": "blue"})
    await shop.customer("u2", name="Bob", tier="silver", attributes={"shoe_size": 39.5, "colour": "green"})
    await shop.customer("u3", name="Cid", attributes={"bad key!": 1})
    catalogue = await shop.call("GET", "/api/v1/segments/attributes", 200)
    fields = {f["field"]: f for f in catalogue["fields"]}
    assert {f for f, v in fields.items() if v["group"] == "shop"} >= {
        "loyalty_points", "tier", "tags", "birthday", "last_order_at", "total_spent"}
    assert {f for f, v in fields.items() if v["group"] == "behaviour"} == {
        "last_seen_at", "pages_viewed", "viewed_page", "vouchers_redeemed"}
    custom = {f: (v["kind"], v["customers"]) for f, v in fields.items() if v["group"] == "custom"}
    assert custom == {"attributes.shoe_size": ("number", 2), "attributes.colour": ("text", 2),
                      "attributes.newsletter": ("bool", 1)}  # a key a rule cannot name is left out
    assert fields["tags"]["ops"] == ["has_tag", "exists"]
    assert fields["tier"]["values"] == ["gold", "silver"] and fields["tags"]["values"] == ["vip"]
    assert fields["last_seen_at"]["ops"] == ["days_since_gt", "days_since_lt", "exists"]
    assert fields["viewed_page"]["ops"] == ["contains"]
    assert fields["attributes.shoe_size"]["ops"][:2] == ["gte", "lte"]
    ops = {o["op"]: o for o in catalogue["ops"]}
    assert set(ops) >= {op for f in fields.values() for op in f["ops"]}
    assert (ops["in"]["value"], ops["exists"]["value"], ops["days_since_gt"]["value"]) == ("list", "none", "days")
    # Custom attributes compare as the shop sent them.
    assert await members(shop, {"field": "attributes.shoe_size", "op": "gte", "value": 40}) == ["u1"]
    assert await members(shop, {"field": "attributes.colour", "op": "contains", "value": "BLU"}) == ["u1"]
    assert await members(shop, {"field": "attributes.newsletter", "op": "eq", "value": True}) == ["u1"]
    assert await members(shop, {"field": "name", "op": "contains", "value": "o"}) == ["u2"]
    # Birthdays by month (a birthday greeting's audience).
    await shop.customer("u1", birthday="1990-03-14")
    await shop.customer("u2", birthday="1985-11-02")
    assert fields["birthday"]["ops"][0] == "month_is" and ops["month_is"]["value"] == "month"
    assert await members(shop, {"field": "birthday", "op": "month_is", "value": 3}) == ["u1"]
    assert await members(shop, {"field": "birthday", "op": "month_is", "value": 11}) == ["u2"]
    err = await shop.call("POST", "/api/v1/segments/preview", 422,
                          json={"rules": {"field": "birthday", "op": "month_is", "value": 13}})
    assert "1 to 12" in err["detail"]


async def test_behaviour_rapport_sees_selects_customers(server: LiveServer, shop: Shop) -> None:
    for user in ("u1", "u2", "u3"):
        await shop.customer(user, name=user.upper())
    ann, bob = await shop.browser("u1"), await shop.browser("u2")
    for url in ("https://shop.test/p/hiking-boots", "https://shop.test/cart"):
        await ann.send(type="page.view", url=url)
    await bob.send(type="page.view", url="https://shop.test/p/socks")
    await eventually(shop, {"field": "viewed_page", "op": "contains", "value": "hiking"}, ["u1"])
    await eventually(shop, {"field": "pages_viewed", "op": "gte", "value": 2}, ["u1"])
    assert await members(shop, {"field": "pages_viewed", "op": "lt", "value": 2}) == ["u2", "u3"]
    # Last seen: the two on the site now, stamped by the process that holds their sockets.
    await eventually(shop, {"field": "last_seen_at", "op": "days_since_lt", "value": 1}, ["u1", "u2"])
    # Vouchers redeemed: a voucher campaign reaches both; Ann redeems hers at the shop.
    await shop.campaign(title="10% off", body="{{ voucher.code }}", voucher={"kind": "percent", "amount": 10,
                                                                              "valid_days": 30})
    code = (await ann.wait_type("notification"))["voucher"]["code"]
    await bob.wait_type("notification")
    assert await members(shop, {"field": "vouchers_redeemed", "op": "gte", "value": 1}) == []
    await shop.call("POST", f"/api/v1/vouchers/{code}/redeem", 200, json={"order_id": "O-1"})
    assert await members(shop, {"field": "vouchers_redeemed", "op": "gte", "value": 1}) == ["u1"]
    # All and any over behaviour and the shop's attributes; a sample smaller than the count.
    both = {"any": [{"field": "vouchers_redeemed", "op": "gte", "value": 1},
                    {"field": "viewed_page", "op": "contains", "value": "socks"}]}
    found = await preview(shop, both, limit=1)
    assert found["total"] == 2 and [c["external_id"] for c in found["customers"]] == ["u1"]
    saved = await shop.call("POST", "/api/v1/segments", 201, json={"name": "Engaged", "rules": both})
    assert saved["members"] == 2
    listed = await shop.call("GET", f"/api/v1/segments/{saved['id']}/members", 200)
    assert sorted(c["external_id"] for c in listed["customers"]) == ["u1", "u2"]
    await ann.close()
    await bob.close()


async def test_preview_takes_the_body_of_create_and_refuses_what_a_field_cannot_do(
    server: LiveServer, shop: Shop
) -> None:
    await shop.customer("u1", name="Ann", tier="gold")
    rule = {"field": "tier", "op": "eq", "value": "gold"}
    assert (await shop.call("POST", "/api/v1/segments/preview", 200, json={"rules": rule}))["total"] == 1
    bare = await shop.call("POST", "/api/v1/segments/preview", 422, json=rule)
    assert bare["code"] == "invalid_request"
    for bad, why in (({"field": "pages_viewed", "op": "has_tag", "value": "x"}, "does not take"),
                     ({"field": "viewed_page", "op": "exists"}, "does not take"),
                     ({"field": "tags", "op": "contains", "value": "v"}, "does not take"),
                     ({"field": "viewed_page", "op": "contains", "value": ""}, "needs some text"),
                     ({"field": "vouchers_redeemed", "op": "gte", "value": "many"}, "number")):
        err = await shop.call("POST", "/api/v1/segments/preview", 422, json={"rules": bad})
        assert err["code"] == "invalid_request" and why in err["detail"], (bad, err)


async def test_only_marketers_and_admins_build_segments(server: LiveServer) -> None:
    await server.add_agent("ann@shop.test", "Ann")
    await server.add_agent("mia@shop.test", "Mia", role="marketer")
    for email, expected in (("ann@shop.test", 403), ("mia@shop.test", 200)):
        async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as http:
            http.cookies.set("rapport_session", await server.login(email, AGENT_PASSWORD))
            assert (await http.get("/api/v1/segments/attributes")).status_code == expected
            r = await http.post("/api/v1/segments/preview", json={"rules": {"field": "tier", "op": "exists"}})
            assert r.status_code == expected, r.text
