"""Points 10 and 11: what a shop-identified customer is called comes only from the shop, and an
anonymous visitor's open socket is cut when that visitor logs in."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from server.auth.identity import user_hash
from tests.security.conftest import answer, close_code, widget
from tests.support.client import WsClient
from tests.support.live import LiveServer
from tests.support.shop import SHOP_SECRET, customer_token

SESSION_ENDED = 4504


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    _key, token = await server.node.shop_keys.create("shop", ["customers"])
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


def signed(sub: str, **claims: object) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600, **claims}, SHOP_SECRET, algorithm="HS256")


async def test_a_shopper_cannot_rename_themselves_in_the_hello(server: LiveServer, shop: httpx.AsyncClient) -> None:
    r = await shop.put("/api/v1/customers/jane-10", json={"name": "Jane Shopper", "email": "jane@shop.test"})
    assert r.status_code == 200, r.text
    proof = {"user_id": "jane-10", "token": customer_token("jane-10")}
    hmac_proof = {"user_id": "jane-10", "user_hash": user_hash(SHOP_SECRET, "jane-10")}
    attempts = {
        "in the identity": {"identity": {**proof, "name": "Shop Support Team", "email": "support@evil.test"}},
        "name only": {"identity": {**proof, "name": "Shop Support Team"}},
        "with an HMAC proof": {"identity": {**hmac_proof, "name": "Shop Support Team"}},
        "beside the identity": {"identity": proof, "name": "Shop Support Team", "email": "support@evil.test"},
        "as a profile": {"identity": proof, "profile": {"name": "Shop Support Team"}},
    }
    for what, hello in attempts.items():
        client = await widget(server, **hello)
        assert client.welcome["type"] == "error", (what, client.welcome)
        assert client.welcome["code"] == "invalid_frame", (what, client.welcome)
        await client.close()
    stored = (await shop.get("/api/v1/customers/jane-10")).json()
    assert (stored["name"], stored["email"]) == ("Jane Shopper", "jane@shop.test"), stored
    # The agent sees the shop's name on her chat, not one she chose.
    agent = await server.agent()
    jane = await widget(server, identity=proof)
    assert jane.welcome["type"] == "welcome" and jane.welcome["profile"]["name"] == "Jane Shopper"
    conv = (await answer(jane, type="message.send", text="hi"))["conversation_id"]
    update = await agent.wait_for(lambda f: f["type"] == "conversation" and f["conversation"]["id"] == conv)
    assert update["conversation"].get("customer_name") == "Jane Shopper", update


async def test_a_name_and_email_signed_by_the_shop_are_taken(server: LiveServer, shop: httpx.AsyncClient) -> None:
    client = await widget(server, identity={
        "user_id": "sam-11", "token": signed("sam-11", name="Sam Signed", email="sam@shop.test")})
    assert client.welcome["type"] == "welcome", client.welcome
    stored = (await shop.get("/api/v1/customers/sam-11")).json()
    assert (stored["name"], stored["email"]) == ("Sam Signed", "sam@shop.test"), stored


async def test_the_anonymous_socket_is_cut_when_the_visitor_logs_in(server: LiveServer) -> None:
    agent = await server.agent()
    anonymous: WsClient = await widget(server)
    token = anonymous.welcome["visitor_token"]
    conv = (await answer(anonymous, type="message.send", text="before logging in"))["conversation_id"]
    await agent.wait_for(lambda f: f.get("text") == "before logging in")

    began = time.monotonic()
    logged_in = await widget(server, visitor_token=token, identity={"user_id": "vic-12", "token": signed("vic-12")})
    assert logged_in.welcome["type"] == "welcome", logged_in.welcome
    code = await close_code(anonymous)
    assert code == SESSION_ENDED, f"the anonymous socket: {'still open' if code is None else code}"
    assert time.monotonic() - began < 2

    # What the customer and the agent say from now on never reaches the old socket.
    secrets = ["my card is 4111 1111 1111 1111", "AGENT: your new password is hunter22"]
    # The visitor's chat was joined to the customer: they go on writing in it.
    assert conv in [c["id"] for c in logged_in.welcome.get("conversations", [])], logged_in.welcome
    sent = await answer(logged_in, type="message.send", text=secrets[0], conversation_id=conv)
    assert sent["type"] == "ack", sent
    await agent.wait_for(lambda f: f.get("text") == secrets[0])
    assert (await agent.send_message(secrets[1], sent["conversation_id"]))["type"] == "ack"
    await logged_in.wait_for(lambda f: f.get("text") == secrets[1])
    assert not [f for f in anonymous.frames if any(s in str(f) for s in secrets)]

    # The old token grants nothing any more: not the chats, not REST.
    again = await widget(server, visitor_token=token)
    assert again.welcome["type"] == "welcome"
    assert again.welcome["customer_id"] != logged_in.welcome["customer_id"]
    assert not again.welcome.get("conversations"), again.welcome
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.get(f"/api/v1/conversations/{sent['conversation_id']}/events",
                           headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (401, 404) and not any(s in r.text for s in secrets), r.text
