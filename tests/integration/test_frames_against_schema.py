"""Every client frame type, as a test sends it, and every frame a real server sends back,
including the push frames (`notification` with a voucher, `inbox.resumed`, `inbox.reset`),
match the published schema (docs/asyncapi.json)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from server import protocol
from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import AGENT_PASSWORD, LiveServer, test_settings
from tests.support.schema_check import validate
from tests.support.shop import Shop, customer_token

CLIENT_TYPES = {c.__struct_config__.tag for c in protocol.ClientFrame.__args__}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return msgspec.structs.replace(test_settings(tmp_path), auto_assign=False)


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    client = Shop(server, token)
    yield client
    await client.close()


class Sender:
    """Sends client frames, each validated against the published schema first."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, client: WsClient, **frame: Any) -> None:
        validate(frame, "client")
        self.sent.append(frame)
        await client.send(**frame)

    async def hello(self, client: WsClient, **fields: Any) -> dict[str, Any]:
        await self(client, type="hello", **fields)
        client.welcome = await client.wait_for(lambda f: f["type"] in ("welcome", "error"))
        assert client.welcome["type"] == "welcome", client.welcome
        return client.welcome

    async def acked(self, client: WsClient, **frame: Any) -> dict[str, Any]:
        await self(client, **frame)
        answer = await client.wait_for(lambda f: f.get("client_id") == frame["client_id"]
                                       and f["type"] in ("ack", "error"))
        assert answer["type"] == "ack", answer
        return answer


async def test_every_client_frame_and_every_push_frame_match_the_published_schema(
    server: LiveServer, shop: Shop
) -> None:
    send = Sender()
    await server.add_agent("ben@shop.test", "Ben")
    admin = await WsClient.connect(f"{server.ws}/ws/agent", cookie=await server.login())
    await send.hello(admin)
    ben = await WsClient.connect(f"{server.ws}/ws/agent", cookie=await server.login("ben@shop.test", AGENT_PASSWORD))
    await send.hello(ben)
    await send(ben, type="presence.set", status="away")
    await send(ben, type="presence.set", status="online")

    # A logged-in shopper: their inbox replays (`inbox.resumed`), then pushes arrive live.
    await shop.customer("u1", name="Ann Lee", loyalty_points=120)
    ann = await WsClient.connect(f"{server.ws}/ws/widget")
    identity = {"user_id": "u1", "token": customer_token("u1")}
    await send.hello(ann, identity=identity, inbox=0)
    await ann.wait_type("inbox.resumed")
    await send(ann, type="page.view", url="https://shop.example/products/blue-shirt", title="Blue shirt")
    await send(ann, type="track", name="added_to_cart", props={"sku": "BS-1", "qty": 2, "gift": False})
    await shop.call("POST", "/api/v1/orders/events", 201, json={
        "customer_id": "u1", "order_id": "O-1", "status": "shipped", "text": "On its way"})
    order = await ann.wait_type("notification", kind="order")
    await shop.campaign(title="{{ voucher.amount | int }}% off", body="Use {{ voucher.code }}",
                        voucher={"kind": "percent", "amount": 15, "valid_days": 7})
    offer = await ann.wait_type("notification", kind="offer")
    assert offer["voucher"]["kind"] == "percent"
    await send(ann, type="notification.track", seq=order["seq"], action="opened")
    # The widget's own frames: orders, the "no offers" switch, a survey push answered.
    await send(ann, type="orders.list")
    await ann.wait_type("orders")
    await shop.campaign(kind="survey", title="Two questions", body="Help us", survey={"questions": [
        {"id": "fit", "kind": "scale", "label": "How did it fit?"},
        {"id": "again", "kind": "choice", "label": "Buy again?", "choices": ["Yes", "No"]}]})
    survey = await ann.wait_type("notification", kind="survey")
    await send(ann, type="survey.answer", client_id="s1", seq=survey["seq"], answers={"fit": 4, "again": "Yes"})
    await ann.wait_type("survey.answered", client_id="s1")
    await send(ann, type="consent.set", marketing=False)
    await ann.wait_type("consent", marketing=False)

    # A chat with every frame of a conversation's life.
    first = await send.acked(ann, type="message.send", client_id="m1", text="Does it come in blue?",
                             contact={"email": "ann@example.com", "name": "Ann", "transcript": True})
    conv = first["conversation_id"]
    await send(ann, type="typing", conversation_id=conv, active=True)
    await send.acked(ann, type="message.edit", client_id="e1", conversation_id=conv, seq=first["seq"],
                     text="Does it come in navy blue?")
    await send.acked(admin, type="conversation.take", client_id="t1", conversation_id=conv)
    reply = await send.acked(admin, type="message.send", client_id="m2", conversation_id=conv, text="It does.")
    await send(ann, type="read", conversation_id=conv, seq=reply["seq"])
    await send(ann, type="resume", conversation_id=conv, after=0)
    await ann.wait_type("resumed", conversation_id=conv)
    await send.acked(admin, type="conversation.transfer", client_id="x1", conversation_id=conv,
                     agent_id=ben.welcome["agent"]["id"])
    await send.acked(ben, type="conversation.close", client_id="c1", conversation_id=conv)
    await send.acked(ann, type="conversation.rate", client_id="v1", conversation_id=conv, score=5, comment="Quick!")
    await send.acked(ben, type="conversation.reopen", client_id="r1", conversation_id=conv)

    # The same shopper on another tab, with a cursor the store cannot honour: `inbox.reset`.
    tab = await WsClient.connect(f"{server.ws}/ws/widget")
    await send.hello(tab, identity=identity, inbox=99)
    reset = await tab.wait_type("inbox.reset")
    assert {n["kind"] for n in reset["notifications"]} == {"order", "offer", "survey"}

    clients = (admin, ben, ann, tab)
    for client in clients:
        await client.quiet(0.2)
    assert {f["type"] for f in send.sent} == CLIENT_TYPES, "every client frame type was sent"
    received: set[str] = set()
    for client in clients:
        for frame in client.frames:
            validate(frame, "server")
            received.add(frame["type"])
    assert received >= {"notification", "inbox.resumed", "inbox.reset", "welcome", "ack", "event", "resumed",
                        "presence", "queue", "conversation", "orders", "survey.answered", "consent"}, received
    assert not [f for c in clients for f in c.frames if f["type"] == "error"]
