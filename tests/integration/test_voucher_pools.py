"""Voucher pools (issue 11): issued to a segment of real customers once each, imported codes with
duplicates refused, one redemption of two racing, expiry counted, CSV neutralised, agents refused."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from server.settings import Settings
from tests.conftest import StartLiveServer
from tests.support.live import AGENT_PASSWORD, LiveServer
from tests.support.shop import Shop, notifications

EVIL_NAME = '=HYPERLINK("http://evil.test","Ann")'


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    client = Shop(server, token)
    yield client
    await client.close()


async def console(server: LiveServer, email: str, role: str) -> httpx.AsyncClient:
    await server.add_agent(email, email.split("@")[0].title(), role=role)
    cookie = await server.login(email, AGENT_PASSWORD)
    return httpx.AsyncClient(
        base_url=server.base, headers={"Cookie": f"rapport_session={cookie}", "Origin": server.base}, timeout=30
    )


@pytest.fixture
async def marketer(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    client = await console(server, "mia@shop.test", "marketer")
    yield client
    await client.aclose()


async def ok(response: Any, status: int = 200) -> Any:
    r = await response
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.headers.get("content-type", "").endswith("json") else r


def in_days(days: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


async def issued(http: httpx.AsyncClient, pool_id: str, segment_id: str) -> dict[str, Any]:
    """Issue the pool to the segment and wait for the background run to finish: its record."""
    started = await ok(http.post(f"/api/v1/voucher-pools/{pool_id}/issues", json={"segment_id": segment_id}), 202)
    assert started["status"] in ("running", "done"), started
    for _ in range(200):
        runs = (await ok(http.get(f"/api/v1/voucher-pools/{pool_id}/issues")))["issues"]
        run = next(r for r in runs if r["id"] == started["id"])
        if run["status"] != "running":
            assert run["status"] == "done", run
            return dict(run)
        await asyncio.sleep(0.05)
    raise AssertionError("the issue never finished")


async def pool_codes_of(shop: Shop, external_id: str, pool_id: str) -> list[dict[str, Any]]:
    got = await shop.call("GET", f"/api/v1/customers/{external_id}/vouchers", 200)
    return [v for v in got["vouchers"] if v["pool_id"] == pool_id]


async def test_a_pool_reaches_each_member_of_a_segment_once_and_counts_what_happens(
    server: LiveServer, shop: Shop, marketer: httpx.AsyncClient
) -> None:
    for external_id, tier, consent in (
        ("gold-1", "gold", True),
        ("gold-2", "gold", True),
        ("gold-3", "gold", True),
        ("gold-quiet", "gold", False),
        ("silver-1", "silver", True),
    ):
        name = EVIL_NAME if external_id == "gold-2" else external_id.title()
        await shop.customer(external_id, name=name, tier=tier, marketing_consent=consent)
    widget = await shop.browser("gold-1")
    try:
        segment = await ok(
            marketer.post(
                "/api/v1/segments", json={"name": "Gold", "rules": {"field": "tier", "op": "eq", "value": "gold"}}
            ),
            201,
        )
        pool = await ok(
            marketer.post(
                "/api/v1/voucher-pools",
                json={"name": "Gold 15", "kind": "percent", "amount": 15, "expires_at": in_days(30)},
            ),
            201,
        )
        assert (pool["issued"], pool["redeemed"], pool["expired"], pool["available"]) == (0, 0, 0, None)
        assert pool["one_per_customer"] is True

        first = await issued(marketer, pool["id"], segment["id"])
        assert (first["members"], first["issued"], first["already_held"], first["no_consent"]) == (4, 3, 0, 1)

        # The connected member sees it in the widget: an offer carrying the code.
        got = await widget.wait_type("notification", kind="offer", timeout=10)
        assert got["voucher"]["kind"] == "percent" and got["voucher"]["amount"] == 15, got
        assert got["title"] == "A voucher for you: 15% off" and got["voucher"]["code"] in got["body"]

        codes = {
            x: await pool_codes_of(shop, x, pool["id"])
            for x in ("gold-1", "gold-2", "gold-3", "gold-quiet", "silver-1")
        }
        assert [len(codes[x]) for x in ("gold-1", "gold-2", "gold-3")] == [1, 1, 1], codes
        assert codes["gold-quiet"] == [] and codes["silver-1"] == []
        assert codes["gold-1"][0]["code"] == got["voucher"]["code"]
        assert len({c[0]["code"] for c in codes.values() if c}) == 3

        # Again: everyone holds one already, nobody gets a second.
        second = await issued(marketer, pool["id"], segment["id"])
        assert (second["issued"], second["already_held"], second["no_consent"]) == (0, 3, 1)
        for x in ("gold-1", "gold-2", "gold-3"):
            assert await pool_codes_of(shop, x, pool["id"]) == codes[x]
        await widget.quiet(0.2)
        assert [n["voucher"]["code"] for n in notifications(widget, "offer")] == [got["voucher"]["code"]]

        # Two checkouts race for one code: one wins, and the pool counts it.
        code = codes["gold-3"][0]["code"]
        answers = await asyncio.gather(
            shop.http.post(f"/api/v1/vouchers/{code}/redeem", json={"order_id": "O-1"}),
            shop.http.post(f"/api/v1/vouchers/{code}/redeem", json={"order_id": "O-2"}),
        )
        assert Counter(r.status_code for r in answers) == {200: 1, 409: 1}, [r.text for r in answers]
        counts = await ok(marketer.get(f"/api/v1/voucher-pools/{pool['id']}"))
        assert (counts["issued"], counts["redeemed"], counts["expired"]) == (3, 1, 0)
        listed = (await ok(marketer.get("/api/v1/voucher-pools")))["pools"]
        assert [(p["name"], p["issued"], p["redeemed"]) for p in listed] == [("Gold 15", 3, 1)]

        page = await ok(marketer.get(f"/api/v1/voucher-pools/{pool['id']}/codes", params={"limit": 2}))
        assert page["total"] == 3 and len(page["codes"]) == 2
        everything = await ok(marketer.get(f"/api/v1/voucher-pools/{pool['id']}/codes"))
        by_customer = {c["customer"]: c for c in everything["codes"]}
        assert set(by_customer) == {"gold-1", "gold-2", "gold-3"}
        assert by_customer["gold-3"]["status"] == "redeemed" and by_customer["gold-1"]["status"] == "issued"

        # The CSV: a name that would run as a formula is neutralised.
        exported = await marketer.get(f"/api/v1/voucher-pools/{pool['id']}/codes.csv")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert len(rows) == 3
        evil = next(r for r in rows if r["customer"] == "gold-2")
        assert evil["customer_name"] == "'" + EVIL_NAME
        assert not any(cell.startswith("=") for r in rows for cell in r.values())
        redeemed = next(r for r in rows if r["customer"] == "gold-3")
        assert redeemed["status"] == "redeemed" and redeemed["redeemed_order"] in ("O-1", "O-2")
    finally:
        await widget.close()


async def test_a_pool_not_one_per_customer_gives_a_code_per_issue(shop: Shop, marketer: httpx.AsyncClient) -> None:
    await shop.customer("c-1", tier="gold")
    segment = await ok(
        marketer.post("/api/v1/segments", json={"name": "G", "rules": {"field": "tier", "op": "eq", "value": "gold"}}),
        201,
    )
    pool = await ok(
        marketer.post(
            "/api/v1/voucher-pools",
            json={"name": "Thanks", "kind": "amount", "amount": 5, "currency": "EUR", "one_per_customer": False},
        ),
        201,
    )
    assert (await issued(marketer, pool["id"], segment["id"]))["issued"] == 1
    assert (await issued(marketer, pool["id"], segment["id"]))["issued"] == 1
    codes = await pool_codes_of(shop, "c-1", pool["id"])
    assert len(codes) == 2 and codes[0]["currency"] == "EUR" and codes[0]["kind"] == "amount"


async def test_imported_codes_refuse_duplicates_and_run_out(shop: Shop, marketer: httpx.AsyncClient) -> None:
    for x in ("m-1", "m-2", "m-3"):
        await shop.customer(x, tier="gold")
    segment = await ok(
        marketer.post("/api/v1/segments", json={"name": "G", "rules": {"field": "tier", "op": "eq", "value": "gold"}}),
        201,
    )
    first = await ok(
        marketer.post(
            "/api/v1/voucher-pools", json={"name": "A", "kind": "percent", "amount": 5, "source": "imported"}
        ),
        201,
    )
    other = await ok(
        marketer.post(
            "/api/v1/voucher-pools", json={"name": "B", "kind": "percent", "amount": 5, "source": "imported"}
        ),
        201,
    )
    assert first["available"] == 0
    # Issuing with nothing to issue is refused before anything runs.
    empty = await marketer.post(f"/api/v1/voucher-pools/{first['id']}/issues", json={"segment_id": segment["id"]})
    assert empty.status_code == 409 and "import" in empty.json()["detail"]

    # A malformed line refuses the whole list, naming it; nothing is imported.
    bad = await marketer.post(f"/api/v1/voucher-pools/{first['id']}/codes", json={"codes": ["GOOD-0001", "no way"]})
    assert bad.status_code == 422 and "line 2" in bad.json()["detail"] and "$.codes" in bad.json()["detail"]
    assert (await ok(marketer.get(f"/api/v1/voucher-pools/{first['id']}")))["available"] == 0

    done = await ok(marketer.post(f"/api/v1/voucher-pools/{other['id']}/codes", json={"codes": ["TAKEN-0001"]}))
    assert done == {"imported": 1, "duplicates": []}
    result = await ok(
        marketer.post(
            f"/api/v1/voucher-pools/{first['id']}/codes",
            json={"codes": ["shop-0001", " SHOP-0002 ", "SHOP-0001", "", "taken-0001"]},
        )
    )
    assert result == {"imported": 2, "duplicates": ["SHOP-0001", "TAKEN-0001"]}
    again = await ok(marketer.post(f"/api/v1/voucher-pools/{first['id']}/codes", json={"codes": ["SHOP-0002"]}))
    assert again == {"imported": 0, "duplicates": ["SHOP-0002"]}
    assert (await ok(marketer.get(f"/api/v1/voucher-pools/{first['id']}")))["available"] == 2
    page = await ok(marketer.get(f"/api/v1/voucher-pools/{first['id']}/codes", params={"limit": 1, "offset": 1}))
    assert page["total"] == 2 and [(c["code"], c["status"], c["customer"]) for c in page["codes"]] == [
        ("SHOP-0002", "available", None)
    ]

    # Three members, two codes: two are issued, one member is told apart as left without.
    run = await issued(marketer, first["id"], segment["id"])
    assert (run["issued"], run["no_code"]) == (2, 1)
    pool = await ok(marketer.get(f"/api/v1/voucher-pools/{first['id']}"))
    assert (pool["available"], pool["issued"]) == (0, 2)
    held = sorted([c["code"] for x in ("m-1", "m-2", "m-3") for c in await pool_codes_of(shop, x, first["id"])])
    assert held == ["SHOP-0001", "SHOP-0002"]
    # The imported code redeems through the one redemption path.
    await shop.call("POST", "/api/v1/vouchers/shop-0001/redeem", 200, json={"order_id": "O-9"})
    assert (await ok(marketer.get(f"/api/v1/voucher-pools/{first['id']}")))["redeemed"] == 1
    # A pool of drawn codes takes no imports.
    drawn = await ok(marketer.post("/api/v1/voucher-pools", json={"name": "C", "kind": "percent", "amount": 5}), 201)
    refused = await marketer.post(f"/api/v1/voucher-pools/{drawn['id']}/codes", json={"codes": ["X-0001"]})
    assert refused.status_code == 409


async def test_expired_codes_are_counted_and_refused(shop: Shop, marketer: httpx.AsyncClient) -> None:
    await shop.customer("e-1", tier="gold")
    segment = await ok(
        marketer.post("/api/v1/segments", json={"name": "G", "rules": {"field": "tier", "op": "eq", "value": "gold"}}),
        201,
    )
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    pool = await ok(
        marketer.post(
            "/api/v1/voucher-pools",
            json={"name": "Flash", "kind": "percent", "amount": 50, "expires_at": expires.isoformat()},
        ),
        201,
    )
    assert (await issued(marketer, pool["id"], segment["id"]))["issued"] == 1
    [code] = await pool_codes_of(shop, "e-1", pool["id"])
    assert abs(code["expires_at"] - expires.timestamp() * 1000) < 1000
    await asyncio.sleep(max(0.0, code["expires_at"] / 1000 - time.time()) + 0.2)
    counts = await ok(marketer.get(f"/api/v1/voucher-pools/{pool['id']}"))
    assert (counts["issued"], counts["redeemed"], counts["expired"]) == (1, 0, 1)
    refused = await shop.call("POST", f"/api/v1/vouchers/{code['code']}/redeem", 409, json={"order_id": "O-1"})
    assert "expired" in refused["detail"]
    late = await marketer.post(f"/api/v1/voucher-pools/{pool['id']}/issues", json={"segment_id": segment["id"]})
    assert late.status_code == 409 and "expired" in late.json()["detail"]
    page = await ok(marketer.get(f"/api/v1/voucher-pools/{pool['id']}/codes"))
    assert [c["status"] for c in page["codes"]] == ["expired"]


async def test_the_form_is_told_which_field_is_wrong(marketer: httpx.AsyncClient) -> None:
    cases = [
        ({"name": "X", "kind": "amount", "amount": 5}, "$.currency"),
        ({"name": "X", "kind": "percent", "amount": 150}, "$.amount"),
        ({"name": "X", "kind": "percent", "amount": 0}, "$.amount"),
        ({"name": "X", "kind": "percent", "amount": 5, "expires_at": in_days(-1)}, "$.expires_at"),
        ({"name": "", "kind": "percent", "amount": 5}, "$.name"),
    ]
    for body, field in cases:
        r = await marketer.post("/api/v1/voucher-pools", json=body)
        assert r.status_code == 422 and field in r.json()["detail"], (body, r.text)
    await ok(marketer.post("/api/v1/voucher-pools", json={"name": "X", "kind": "percent", "amount": 5}), 201)
    taken = await marketer.post("/api/v1/voucher-pools", json={"name": "X", "kind": "percent", "amount": 5})
    assert taken.status_code == 409 and "$.name" in taken.json()["detail"]
    assert (await ok(marketer.get("/api/v1/voucher-pools")))["pools"][0]["name"] == "X"


async def test_an_agent_reaches_no_pool(server: LiveServer, marketer: httpx.AsyncClient) -> None:
    pool = await ok(marketer.post("/api/v1/voucher-pools", json={"name": "P", "kind": "percent", "amount": 5}), 201)
    agent = await console(server, "ann@shop.test", "agent")
    try:
        for method, path, body in (
            ("GET", "/api/v1/voucher-pools", None),
            ("POST", "/api/v1/voucher-pools", {"name": "Q", "kind": "percent", "amount": 5}),
            ("GET", f"/api/v1/voucher-pools/{pool['id']}", None),
            ("GET", f"/api/v1/voucher-pools/{pool['id']}/codes.csv", None),
        ):
            r = await agent.request(method, path, json=body)
            assert r.status_code == 403, (method, path, r.status_code, r.text)
            assert "P" not in r.text.split('"') or pool["id"] not in r.text
    finally:
        await agent.aclose()
    assert [p["name"] for p in (await ok(marketer.get("/api/v1/voucher-pools")))["pools"]] == ["P"]


async def test_an_issue_left_running_by_a_stopped_process_is_finished_at_start(
    settings: Settings, live_server_factory: StartLiveServer
) -> None:
    first = await live_server_factory(settings)
    _key, token = await first.node.shop_keys.create("shop", ["*"])
    shop = Shop(first, token)
    try:
        for x in ("r-1", "r-2"):
            await shop.customer(x, tier="gold")
        segment = await shop.call(
            "POST", "/api/v1/segments", 201, json={"name": "G", "rules": {"field": "tier", "op": "eq", "value": "gold"}}
        )
        pool = await shop.call("POST", "/api/v1/voucher-pools", 201, json={"name": "R", "kind": "percent", "amount": 5})
        # What a process stopped right after starting an issue leaves: the issue, no batch done.
        await first.node.db.run(
            "INSERT INTO voucher_pool_issues (id, pool_id, segment_id, status, started_at)"
            " VALUES (?, ?, ?, 'running', 1)",
            ("vi_left", pool["id"], segment["id"]),
        )
    finally:
        await shop.close()
    await first.stop()
    second = await live_server_factory(settings)
    shop = Shop(second, token)
    try:
        for _ in range(200):
            [run] = (await shop.call("GET", f"/api/v1/voucher-pools/{pool['id']}/issues", 200))["issues"]
            if run["status"] != "running":
                break
            await asyncio.sleep(0.05)
        assert (run["id"], run["status"], run["issued"]) == ("vi_left", "done", 2)
        assert [len(await pool_codes_of(shop, x, pool["id"])) for x in ("r-1", "r-2")] == [1, 1]
    finally:
        await shop.close()
