"""A voucher is redeemed once: twenty checkouts racing for one code on two server processes
(one store, one Redis), and an expired voucher refused without a change."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live import LiveServer, ProcessServer, test_settings
from tests.support.redis_server import RedisServer
from tests.support.shop import Shop


@pytest.fixture
def two_processes(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[ProcessServer, ProcessServer]]:
    settings = test_settings(tmp_path, redis_url=redis_server.url)
    a = ProcessServer(settings).start()
    try:
        b = ProcessServer(settings).start()
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


async def api_token(server: ProcessServer) -> str:
    async with httpx.AsyncClient(base_url=server.base) as http:
        http.cookies.set("rapport_session", await server.login())
        made = await http.post("/api/v1/api-keys", json={"name": "shop", "scopes": ["*"]})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])


async def voucher_for(shop: Shop, external_id: str, **campaign: Any) -> dict[str, Any]:
    """A campaign with a voucher, sent while the customer is on the site: their voucher."""
    await shop.customer(external_id, name="Ann Lee")
    browser = await shop.browser(external_id)
    try:
        await shop.campaign(title="{{ voucher.amount | int }}% off", body="Use {{ voucher.code }}",
                            voucher={"kind": "percent", "amount": 10}, **campaign)
        got = await browser.wait_type("notification", kind="offer")
    finally:
        await browser.close()
    voucher: dict[str, Any] = got["voucher"]
    return voucher


def voucher_row(database: str, code: str) -> dict[str, Any]:
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM vouchers WHERE code = ?", (code,)).fetchone()
        redeemed = db.execute("SELECT COUNT(*) FROM notification_actions WHERE action = 'redeemed'").fetchone()[0]
    assert row is not None
    return {**dict(row), "redeemed_actions": redeemed}


async def test_twenty_checkouts_on_two_processes_redeem_one_code_once(
    two_processes: tuple[ProcessServer, ProcessServer],
) -> None:
    a, b = two_processes
    shop = Shop(a, await api_token(a), browsers=[a, b])
    try:
        code = (await voucher_for(shop, "u1"))["code"]
        token = shop.http.headers["Authorization"]
        clients = [httpx.AsyncClient(base_url=s.base, headers={"Authorization": token}, timeout=30) for s in (a, b)]
        try:
            orders = [f"O-{i}" for i in range(20)]
            answers = await asyncio.gather(*(
                clients[i % 2].post(f"/api/v1/vouchers/{code}/redeem", json={"order_id": order})
                for i, order in enumerate(orders)))
        finally:
            for client in clients:
                await client.aclose()
        statuses = Counter(r.status_code for r in answers)
        assert statuses == {200: 1, 409: 19}, [(r.status_code, r.text[:200]) for r in answers]
        [winner] = [order for order, r in zip(orders, answers, strict=True) if r.status_code == 200]
        for r in answers:
            if r.status_code == 409:
                assert r.json()["code"] == "conflict" and winner in r.json()["detail"], r.text
        state = await shop.call("GET", f"/api/v1/vouchers/{code}", 200)
        assert state["redeemed_order"] == winner and state["redeemed_at"] is not None
        row = voucher_row(a.settings.database_path, code)
        assert (row["redeemed_order"], row["redeemed_actions"]) == (winner, 1)
    finally:
        await shop.close()


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    client = Shop(server, token)
    yield client
    await client.close()


async def test_an_expired_voucher_is_refused_and_nothing_changes(shop: Shop, server: LiveServer) -> None:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    voucher = await voucher_for(shop, "u1", expires_at=expires.isoformat())
    code = voucher["code"]
    assert abs(voucher["expires_at"] - expires.timestamp() * 1000) < 1000, voucher
    await asyncio.sleep(max(0.0, voucher["expires_at"] / 1000 - time.time()) + 0.2)
    before = voucher_row(server.settings.database_path, code)
    assert before["expires_at"] <= time.time() * 1000

    refused = await shop.call("POST", f"/api/v1/vouchers/{code}/redeem", 409, json={"order_id": "O-late"})
    assert refused["code"] == "conflict" and "expired" in refused["detail"], refused
    # Refused again, the same way: the first refusal did not redeem it.
    again = await shop.call("POST", f"/api/v1/vouchers/{code}/redeem", 409, json={"order_id": "O-late"})
    assert again["detail"] == refused["detail"]
    assert voucher_row(server.settings.database_path, code) == before
    assert before["redeemed_at"] is None and before["redeemed_order"] is None and before["redeemed_actions"] == 0
    state = await shop.call("GET", f"/api/v1/vouchers/{code}", 200)
    assert (state["redeemed_at"], state["redeemed_order"]) == (None, None)
