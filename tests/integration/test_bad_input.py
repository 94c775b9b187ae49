"""Bad input of every kind at the socket edge: a clear error with a code, everyone else served, nothing stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import LiveServer, test_settings


@pytest.fixture
async def tight(tmp_path: Any) -> AsyncIterator[LiveServer]:
    """A server with small limits, so each can be hit quickly."""
    settings = test_settings(
        tmp_path, max_frame_bytes=4096, max_message_chars=100, rate_per_second=2.0, rate_burst=5, hello_timeout=1.0
    )
    live = await LiveServer(settings).start()
    try:
        yield live
    finally:
        await live.stop()


async def _chat(server: LiveServer) -> tuple[WsClient, WsClient, str]:
    """An agent and a shopper in a conversation with one message each way."""
    agent = await server.agent()
    shopper = await server.customer()
    conv = (await shopper.send_message("hello"))["conversation_id"]
    await agent.wait_type("event", conversation_id=conv, kind="message")
    assert (await agent.send_message("hi, how can I help?", conv))["type"] == "ack"
    await shopper.wait_type("event", conversation_id=conv, kind="message", author_type="agent")
    return agent, shopper, conv


async def _error(client: WsClient, **match: Any) -> dict[str, Any]:
    return await client.wait_type("error", **match)


async def test_malformed_frames_get_coded_errors_and_the_connection_goes_on(tight: LiveServer) -> None:
    agent, shopper, conv = await _chat(tight)
    before = await tight.event_count()

    cases: list[tuple[str | bytes, str]] = [
        ("{not json", "bad_json"),
        ("[1, 2, 3]", "invalid_frame"),
        ('{"no": "type"}', "invalid_frame"),
        (json.dumps({"type": "launch.rockets"}), "unknown_type"),
        (json.dumps({"type": "message.send", "client_id": "m1"}), "invalid_frame"),  # no text
        (json.dumps({"type": "message.send", "client_id": "m2", "text": 5}), "invalid_frame"),
        (json.dumps({"type": "message.send", "client_id": "m3", "text": "x", "admin": True}), "invalid_frame"),
        (json.dumps({"type": "message.send", "client_id": "", "text": "x"}), "invalid_frame"),
        (json.dumps({"type": "read", "conversation_id": conv, "seq": -1}), "invalid_frame"),
        (json.dumps({"type": "hello"}), "invalid_frame"),  # a second hello
        (b"\x00\x01binary", "invalid_frame"),
    ]
    for raw, code in cases:
        await shopper.ws.send(raw)
        err = await _error(shopper)
        assert err["code"] == code, (raw, err)
        assert err["message"]
        await asyncio.sleep(0.5)  # stay under the rate limit: this test is about shapes

    # The message that is too long for the settings: refused with its own code, echoing its id.
    too_long = await shopper.send_message("x" * 101, conv, client_id="long-1")
    assert too_long["type"] == "error" and too_long["code"] == "too_long" and too_long["client_id"] == "long-1"

    # A customer may not send what only agents send.
    await asyncio.sleep(0.5)
    await shopper.send(type="conversation.take", client_id="t1", conversation_id=conv)
    assert (await _error(shopper, client_id="t1"))["code"] in ("forbidden", "invalid_frame")

    # Nothing was stored, and both sides are still served.
    assert await tight.event_count() == before
    await asyncio.sleep(0.5)
    ack = await shopper.send_message("still here", conv)
    assert ack["type"] == "ack"
    assert (await agent.wait_type("event", conversation_id=conv, seq=ack["seq"]))["text"] == "still here"


async def test_an_oversize_frame_closes_only_that_connection(tight: LiveServer) -> None:
    agent, shopper, conv = await _chat(tight)
    before = await tight.event_count()
    bystander = await tight.customer()

    await shopper.ws.send(json.dumps({"type": "message.send", "client_id": "big", "text": "x" * 10_000}))
    assert await shopper.closed_with() == 1009

    assert await tight.event_count() == before
    assert (await bystander.send_message("I am fine"))["type"] == "ack"
    assert (await agent.send_message("still answering", conv))["type"] == "ack"


async def test_a_flood_is_throttled_then_closed_and_others_are_served(tight: LiveServer) -> None:
    agent, shopper, conv = await _chat(tight)
    bystander = await tight.customer()

    # 40 frames at once against a burst of 5 at 2/s: the first few pass, then rate_limited
    # errors, then the connection is closed with 4002 (reconnect later, with backoff).
    for n in range(40):
        await shopper.send(type="typing", conversation_id=conv, active=n % 2 == 0)
    code = await shopper.closed_with()
    assert code == 4002
    assert any(f["type"] == "error" and f["code"] == "rate_limited" for f in shopper.frames)

    assert (await bystander.send_message("not affected"))["type"] == "ack"
    assert (await agent.send_message("neither am I", conv))["type"] == "ack"


async def test_hello_is_required_first_and_in_time(tight: LiveServer) -> None:
    silent = await WsClient.connect(f"{tight.ws}/ws/widget")
    assert await silent.closed_with() == 4003
    assert silent.frames[-1]["code"] == "hello_required"

    rude = await WsClient.connect(f"{tight.ws}/ws/widget")
    await rude.send(type="message.send", client_id="c1", text="hi")
    assert await rude.closed_with() == 4501

    garbage = await WsClient.connect(f"{tight.ws}/ws/widget")
    await garbage.ws.send("hello?")
    assert await garbage.closed_with() == 4501
    assert garbage.frames[-1]["code"] == "bad_json"


async def test_someone_elses_conversation_is_not_found_anywhere(server: LiveServer) -> None:
    _agent, alice, conv = await _chat(server)
    mallory = await server.customer()
    mine = (await mallory.send_message("my own question"))["conversation_id"]
    before = await server.event_count()

    assert (await mallory.send_message("let me in", conv))["code"] == "not_found"
    await mallory.send(type="message.edit", client_id="e1", conversation_id=conv, seq=1, text="edited")
    assert (await _error(mallory, client_id="e1"))["code"] == "not_found"
    await mallory.send(type="resume", conversation_id=conv, after=0)
    assert (await _error(mallory))["code"] == "not_found"
    await mallory.send(type="typing", conversation_id=conv, active=True)
    assert (await _error(mallory))["code"] == "not_found"
    await mallory.send(type="read", conversation_id=conv, seq=2)
    assert (await _error(mallory))["code"] == "not_found"
    await mallory.send(type="conversation.close", client_id="x1", conversation_id=conv)
    assert (await _error(mallory, client_id="x1"))["code"] == "not_found"

    # Naming it in a hello's resume map gets nothing of it either.
    again = await server.customer(visitor_token=mallory.welcome["visitor_token"], resume={conv: 0, mine: 0})
    assert (await _error(again))["code"] == "not_found"
    await again.wait_type("resumed", conversation_id=mine)
    await again.quiet()
    assert again.events(conv) == [] and "hello" not in json.dumps(again.frames)
    assert [c["id"] for c in again.welcome["conversations"]] == [mine]

    # Nothing of Alice's was read, stored or changed; she is still served.
    assert await server.event_count() == before
    assert (await alice.send_message("thanks", conv))["type"] == "ack"


async def test_forged_expired_or_missing_customer_proof_is_refused(server: LiveServer) -> None:
    import time

    import jwt

    from server.auth.identity import user_hash
    from tests.support.shop import SHOP_SECRET, customer_token

    async def identify(**identity: Any) -> tuple[int | None, dict[str, Any]]:
        client = await WsClient.connect(f"{server.ws}/ws/widget")
        await client.send(type="hello", identity=identity)
        code = await client.closed_with(timeout=3)
        return code, client.frames[-1]

    now = int(time.time())
    forged = [
        {"user_id": "c-1", "token": customer_token("c-1", secret="not-the-shop-secret-0123456789abcdef")},
        {"user_id": "c-1", "token": customer_token("c-1", ttl=-60)},  # expired
        {"user_id": "c-1", "token": customer_token("c-2")},  # someone else's token
        {"user_id": "c-1", "token": jwt.encode({"sub": "c-1", "exp": now + 60}, None, algorithm="none")},
        {"user_id": "c-1", "token": jwt.encode({"sub": "c-1"}, SHOP_SECRET, algorithm="HS256")},  # no exp
        {"user_id": "c-1", "token": "not.a.jwt"},
        {"user_id": "c-1", "user_hash": user_hash("wrong-secret", "c-1")},
        {"user_id": "c-1", "user_hash": user_hash(SHOP_SECRET, "c-2")},
        {"user_id": "c-1"},  # no proof at all
    ]
    for identity in forged:
        code, last = await identify(**identity)
        assert code == 4500, identity
        assert last["type"] == "error" and last["code"] == "unauthorized", identity
    # An e-mail (or a name) from the browser proves nothing and is not even accepted: they come
    # from the shop (its API, or signed claims of its JWT).
    code, last = await identify(user_id="c-1", email="c1@example.com")
    assert code == 4501 and last["code"] == "invalid_frame" and "email" in last["message"]

    # The genuine proofs, both ways, open the same customer.
    by_jwt = await server.customer(identity={"user_id": "c-1", "token": customer_token("c-1")})
    by_hash = await server.customer(identity={"user_id": "c-1", "user_hash": user_hash(SHOP_SECRET, "c-1")})
    assert by_jwt.welcome["type"] == by_hash.welcome["type"] == "welcome"
    assert by_jwt.welcome["customer_id"] == by_hash.welcome["customer_id"]


async def test_a_customer_token_that_expires_mid_connection_stops_being_honoured(server: LiveServer) -> None:
    from tests.support.shop import customer_token

    # Five seconds of leeway are allowed for clock skew; the token lapses after ~6 s.
    client = await server.customer(identity={"user_id": "c-9", "token": customer_token("c-9", ttl=1)})
    assert (await client.send_message("before expiry"))["type"] == "ack"
    await asyncio.sleep(6.5)
    await client.send(type="message.send", client_id="late", text="after expiry")
    assert await client.closed_with() == 4500
    assert any(f["type"] == "error" and f["code"] == "unauthorized" for f in client.frames)


async def test_a_visitors_conversation_joins_the_customer_at_login_and_the_token_then_grants_nothing(
    server: LiveServer,
) -> None:
    from tests.support.shop import customer_token

    visitor = await server.customer()
    token = visitor.welcome["visitor_token"]
    conv = (await visitor.send_message("is this in stock?"))["conversation_id"]
    await visitor.close()

    customer = await server.customer(visitor_token=token, identity={"user_id": "c-7", "token": customer_token("c-7")})
    assert [c["id"] for c in customer.welcome["conversations"]] == [conv]
    await customer.wait_type("event", conversation_id=conv, kind="message")

    # The anonymous token no longer opens it: a new anonymous visitor, with nothing.
    stranger = await server.customer(visitor_token=token)
    assert stranger.welcome.get("conversations", []) == []
    assert stranger.welcome["customer_id"] != customer.welcome["customer_id"]
    # And a garbled token is just a new visitor, not an error.
    garbled = await server.customer(visitor_token=token[:-4] + "AAAA")
    assert garbled.welcome["type"] == "welcome" and garbled.welcome.get("conversations", []) == []


async def test_agent_sockets_need_a_session_and_an_answering_role(server: LiveServer) -> None:
    nobody = await WsClient.connect(f"{server.ws}/ws/agent")
    assert await nobody.closed_with() == 4500

    forged = await WsClient.connect(f"{server.ws}/ws/agent", cookie="forged.session.cookie")
    assert await forged.closed_with() == 4500

    await server.add_agent("mia@shop.test", "Mia", role="marketer")
    from tests.support.live import AGENT_PASSWORD

    cookie = await server.login("mia@shop.test", AGENT_PASSWORD)
    marketer = await WsClient.connect(f"{server.ws}/ws/agent", cookie=cookie)
    assert await marketer.closed_with() == 4503
    assert marketer.frames[-1]["code"] == "forbidden"


async def test_origins_outside_the_allow_list_are_refused_at_the_handshake(tmp_path: Any) -> None:
    settings = test_settings(tmp_path, allowed_origins=("https://shop.example",))
    live = await LiveServer(settings).start()
    try:
        for path in ("/ws/widget", "/ws/agent"):
            with pytest.raises(InvalidStatus) as refused:
                await WsClient.connect(f"{live.ws}{path}", origin="https://evil.example")
            assert refused.value.response.status_code == 403
        ok = await WsClient.connect(f"{live.ws}/ws/widget", origin="https://shop.example")
        await ok.hello()
        assert ok.welcome["type"] == "welcome"
        # The console is this server's own page: the shop's origin may not drive an agent socket.
        cookie = await live.login()
        with pytest.raises(InvalidStatus):
            await WsClient.connect(f"{live.ws}/ws/agent", origin="https://shop.example", cookie=cookie)
        own = await WsClient.connect(f"{live.ws}/ws/agent", origin=live.base, cookie=cookie)
        await own.hello()
        assert own.welcome["type"] == "welcome"
    finally:
        await live.stop()


async def test_settings_limits_are_validated_at_start(tmp_path: Any) -> None:
    from server.settings import SettingsError

    with pytest.raises(SettingsError):
        Settings.from_env({"RAPPORT_MAX_FRAME_BYTES": "lots"})
    with pytest.raises(SettingsError):
        Settings.from_env({"RAPPORT_RATE_PER_SECOND": "-1"})
