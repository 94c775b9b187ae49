"""Point 7: anonymous queue flooding. Sockets from one address opening conversations, hellos that
would fill the customers table, reconnecting to sidestep the frame limit and its pause, and more
sockets for more frames: each throttled, while a real shopper elsewhere still gets an agent."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from tests.conftest import StartLiveServer
from tests.security.conftest import answer, close_code, widget
from tests.support.client import WsClient
from tests.support.live import AGENT_PASSWORD, LiveServer, test_settings

RATE_LIMITED = 4002


async def rows(server: LiveServer, sql: str, *params: object) -> int:
    row = await server.node.db.fetchone(sql, params)
    assert row is not None
    return int(row[0])


async def test_forty_sockets_from_one_address_cannot_bury_a_real_shopper(
    tmp_path: Path, live_server_factory: StartLiveServer
) -> None:
    server = await live_server_factory(test_settings(tmp_path, new_conversations_per_address=5))
    ann_id = await server.add_agent("ann@shop.test", "Ann", max_concurrent=100)
    ann = await server.agent("ann@shop.test", AGENT_PASSWORD)

    flood = await asyncio.gather(*(widget(server, "203.0.113.50") for _ in range(40)))
    assert all(c.welcome["type"] == "welcome" for c in flood), [c.welcome for c in flood][:3]

    async def open_two(client: WsClient) -> list[str]:
        outcomes = []
        for n in range(2):
            got = await answer(client, type="message.send", text=f"spam {n}")
            outcomes.append("ack" if got["type"] == "ack" else got["code"])
        return outcomes

    outcomes = Counter(o for c in await asyncio.gather(*(open_two(c) for c in flood)) for o in c)
    assert outcomes["ack"] <= 5, outcomes
    assert set(outcomes) <= {"ack", "rate_limited", "unavailable"}, outcomes
    assert await rows(server, "SELECT COUNT(*) FROM conversations") == outcomes["ack"]

    # A real shopper, elsewhere, opens a chat and gets the online agent.
    shopper = await widget(server, "198.51.100.7")
    ack = await answer(shopper, type="message.send", text="Do you ship to Norway?")
    assert ack["type"] == "ack", ack
    conv = ack["conversation_id"]
    assigned = await shopper.wait_for(
        lambda f: f["type"] == "conversation" and f["conversation"]["id"] == conv
        and f["conversation"]["status"] == "assigned", timeout=5)
    assert assigned["conversation"]["agent_id"] == ann_id
    await ann.wait_for(lambda f: f.get("text") == "Do you ship to Norway?")
    for client in flood:
        await client.close()


async def test_one_visitor_cannot_open_conversation_after_conversation(server: LiveServer) -> None:
    visitor = await widget(server, "203.0.113.51")
    outcomes = [await answer(visitor, type="message.send", text=f"chat {n}") for n in range(25)]
    opened = [o for o in outcomes if o["type"] == "ack"]
    assert len(opened) <= server.settings.max_open_conversations, len(opened)
    assert {o["code"] for o in outcomes if o["type"] == "error"} <= {"rate_limited", "unavailable"}
    customer = visitor.welcome["customer_id"]
    assert await rows(server, "SELECT COUNT(*) FROM conversations WHERE customer_id = ?", customer) == len(opened)


async def test_three_hundred_hellos_store_no_customer(
    tmp_path: Path, live_server_factory: StartLiveServer
) -> None:
    server = await live_server_factory(test_settings(tmp_path))
    before = await rows(server, "SELECT COUNT(*) FROM customers")

    async def hello(n: int) -> str:
        client = await widget(server, f"198.51.100.{n % 30 + 100}")
        try:
            return "welcome" if client.welcome.get("visitor_token") else str(client.welcome)
        finally:
            await client.close()

    answers: list[str] = []
    for start in range(0, 300, 30):
        answers += await asyncio.gather(*(hello(n) for n in range(start, start + 30)))
    assert answers == ["welcome"] * 300, Counter(answers)
    assert await rows(server, "SELECT COUNT(*) FROM customers") == before


async def test_a_visitor_closed_for_flooding_cannot_come_straight_back(
    tmp_path: Path, live_server_factory: StartLiveServer
) -> None:
    server = await live_server_factory(test_settings(
        tmp_path, rate_per_second=2.0, rate_burst=5, rate_limit_pause=2.0))
    flooder = await widget(server, "203.0.113.80")
    token = flooder.welcome["visitor_token"]
    for n in range(60):
        try:
            await flooder.send(type="typing", conversation_id=f"c_{n}", active=True)
        except ConnectionClosed:  # closed half-way through: that is the point
            break
    assert await flooder.closed_with(timeout=5) == RATE_LIMITED
    closed_at = time.monotonic()

    # At once, from the same address: refused. From another address with the same token: refused.
    same_address = await widget(server, "203.0.113.80", visitor_token=token)
    assert same_address.welcome["type"] != "welcome", "let straight back in from the same address"
    assert await same_address.closed_with(timeout=3) == RATE_LIMITED
    same_visitor = await widget(server, "192.0.2.81", visitor_token=token)
    assert same_visitor.welcome["type"] != "welcome", "let straight back in from another address"
    assert await same_visitor.closed_with(timeout=3) == RATE_LIMITED
    assert time.monotonic() - closed_at < 2.0, "the checks took longer than the pause itself"

    # Once the pause is over (counted from the last refusal), the visitor is served again.
    await asyncio.sleep(2.3)
    back = await widget(server, "203.0.113.80", visitor_token=token)
    assert back.welcome["type"] == "welcome", back.welcome


async def test_more_sockets_buy_no_more_frames(tmp_path: Path, live_server_factory: StartLiveServer) -> None:
    server = await live_server_factory(test_settings(
        tmp_path, rate_per_second=2.0, rate_burst=5, rate_limit_pause=0.5, max_open_conversations=10))
    first = await widget(server, "203.0.113.90")
    token = first.welcome["visitor_token"]
    conv = (await answer(first, type="message.send", text="hello"))["conversation_id"]
    sockets = [first] + [await widget(server, f"203.0.113.{91 + n}", visitor_token=token) for n in range(5)]
    assert all(s.welcome["type"] == "welcome" for s in sockets)
    began = time.monotonic()
    for n in range(10):
        for s in sockets:
            with contextlib.suppress(ConnectionClosed):  # a socket closed for flooding
                await s.send(type="message.send", client_id=uuid.uuid4().hex, conversation_id=conv, text=f"m{n}")
    elapsed = time.monotonic() - began
    await asyncio.sleep(0.5)
    customer = first.welcome["customer_id"]
    stored = await rows(server, "SELECT COUNT(*) FROM events WHERE author_id = ? AND kind = 'message'", customer) - 1
    allowed = 5 + 2.0 * (elapsed + 0.5) + 1
    assert stored <= allowed, f"{stored} messages stored from 60 sent over 6 sockets in {elapsed:.2f} s"


async def test_one_address_cannot_open_socket_after_socket(
    tmp_path: Path, live_server_factory: StartLiveServer
) -> None:
    server = await live_server_factory(test_settings(tmp_path, visitor_connects_per_minute=20, rate_limit_pause=1.0))
    clients = [await widget(server, "203.0.113.120") for _ in range(25)]
    welcomed = [c for c in clients if c.welcome["type"] == "welcome"]
    assert len(welcomed) <= 11, f"{len(welcomed)} of 25 sockets from one address let in (burst 10)"
    refused = [c for c in clients if c.welcome["type"] != "welcome"]
    assert refused
    codes = [await close_code(c, 2) for c in refused]
    assert set(codes) == {RATE_LIMITED}, codes
    other = await widget(server, "198.51.100.121")
    assert other.welcome["type"] == "welcome", other.welcome
    for c in clients:
        await c.close()
