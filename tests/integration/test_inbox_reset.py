"""A customer's inbox is reset, not resumed, when their cursor cannot be trusted or is too far
behind: a cursor from another epoch (a restored store), past the replay limit, or ahead of the
store. Real server, real sockets, notifications stored through the shop's API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import LiveServer, test_settings
from tests.support.shop import Shop, customer_token

REPLAY_LIMIT, SNAPSHOT = 5, 3


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path, replay_limit=REPLAY_LIMIT, snapshot_events=SNAPSHOT)


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    client = Shop(server, token)
    await client.customer("u1", name="Ann Lee", marketing_consent=False)
    yield client
    await client.close()


async def order_updates(shop: Shop, first: int, count: int) -> None:
    """`count` order updates for u1 (transactional: no consent, no cap), orders first..first+count-1."""
    for n in range(first, first + count):
        await shop.call("POST", "/api/v1/orders/events", 201, json={
            "customer_id": "u1", "order_id": f"O-{n}", "status": "shipped", "text": f"order {n} shipped"})


async def inbox_after(server: LiveServer, cursor: int, **hello: Any) -> WsClient:
    """u1 back on the site with their inbox cursor; returns once the inbox answered."""
    client = await WsClient.connect(f"{server.ws}/ws/widget")
    await client.hello(identity={"user_id": "u1", "token": customer_token("u1")}, inbox=cursor, **hello)
    await client.wait_for(lambda f: f["type"] in ("inbox.reset", "inbox.resumed"))
    return client


def bodies(frame: dict[str, Any]) -> list[str]:
    return [n["body"] for n in frame["notifications"]]


async def test_a_cursor_from_another_epoch_gets_a_reset(shop: Shop, server: LiveServer) -> None:
    await order_updates(shop, 1, 3)
    back = await inbox_after(server, 3, epoch="a-restored-backup")
    [reset] = [f for f in back.frames if f["type"].startswith("inbox.")]
    assert reset["type"] == "inbox.reset" and reset["seq"] == 3
    assert sorted(n["seq"] for n in reset["notifications"]) == [1, 2, 3]
    assert sorted(bodies(reset)) == ["order 1 shipped", "order 2 shipped", "order 3 shipped"]
    # Live from the reset's end on.
    await order_updates(shop, 4, 1)
    live = await back.wait_type("notification")
    assert (live["seq"], live["body"]) == (4, "order 4 shipped")


async def test_a_cursor_past_the_replay_limit_gets_the_latest_as_a_reset(shop: Shop, server: LiveServer) -> None:
    await order_updates(shop, 1, 1)
    await order_updates(shop, 2, REPLAY_LIMIT + 3)  # seqs 2..9: 8 behind a cursor at 1
    back = await inbox_after(server, 1, epoch=server.node.db.epoch)
    [reset] = [f for f in back.frames if f["type"].startswith("inbox.")]
    assert reset["type"] == "inbox.reset" and reset["seq"] == REPLAY_LIMIT + 4
    # The latest SNAPSHOT notifications, nothing replayed one by one.
    assert sorted(n["seq"] for n in reset["notifications"]) == [7, 8, 9]
    assert [f for f in back.frames if f["type"] == "notification"] == []
    await order_updates(shop, 100, 1)
    assert (await back.wait_type("notification"))["seq"] == 10


async def test_a_cursor_ahead_of_the_store_gets_a_reset(shop: Shop, server: LiveServer) -> None:
    await order_updates(shop, 1, 2)
    back = await inbox_after(server, 50)
    [reset] = [f for f in back.frames if f["type"].startswith("inbox.")]
    assert reset["type"] == "inbox.reset" and reset["seq"] == 2
    assert sorted(n["seq"] for n in reset["notifications"]) == [1, 2]


async def test_a_cursor_within_the_limit_resumes_instead(shop: Shop, server: LiveServer) -> None:
    await order_updates(shop, 1, REPLAY_LIMIT + 1)  # seqs 1..6: exactly the limit behind a cursor at 1
    back = await inbox_after(server, 1, epoch=server.node.db.epoch)
    assert [f["type"] for f in back.frames if f["type"].startswith("inbox.")] == ["inbox.resumed"]
    assert [f["seq"] for f in back.frames if f["type"] == "notification"] == [2, 3, 4, 5, 6]
