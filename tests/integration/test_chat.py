"""Shopper and agents over real sockets: round trip, queue, assignment, transfer, notes, typing, reads."""

from __future__ import annotations

from typing import Any

import httpx

from server.settings import Settings
from tests.support.live import AGENT_PASSWORD, LiveServer


async def test_shopper_to_agent_and_back(server: LiveServer) -> None:
    agent = await server.agent()
    shopper = await server.customer()
    assert shopper.welcome["type"] == "welcome" and shopper.welcome["agents_online"] is True

    ack = await shopper.send_message("Hello, where is my order?")
    assert ack["type"] == "ack" and ack["seq"] == 1
    conv = ack["conversation_id"]

    # The only online agent gets it assigned and receives the message live.
    seen = await agent.wait_type("event", conversation_id=conv, kind="message")
    assert seen["text"] == "Hello, where is my order?" and seen["author_type"] == "customer"

    reply = await agent.send_message("It left the warehouse today.", conv)
    assert reply["type"] == "ack"
    got = await shopper.wait_type("event", conversation_id=conv, seq=reply["seq"])
    assert got["text"] == "It left the warehouse today." and got["author_type"] == "agent"
    assert got["author_name"] == "Admin"
    assert shopper.texts(conv) == ["Hello, where is my order?", "It left the warehouse today."]


async def test_queue_and_assignment_with_two_agents(tmp_path, settings: Settings) -> None:
    import msgspec

    live = await LiveServer(msgspec.structs.replace(settings, auto_assign=False)).start()
    try:
        await live.add_agent("anna@shop.test", "Anna")
        await live.add_agent("ben@shop.test", "Ben")
        anna = await live.agent("anna@shop.test", AGENT_PASSWORD)
        ben = await live.agent("ben@shop.test", AGENT_PASSWORD)
        shopper = await live.customer()
        conv = (await shopper.send_message("Do you ship to Norway?"))["conversation_id"]

        # Both agents see the queue change live.
        for agent in (anna, ben):
            queue = await agent.wait_for(lambda f: f["type"] == "queue" and f["waiting"])
            assert [c["id"] for c in queue["waiting"]] == [conv]

        await anna.send(type="conversation.take", client_id="t1", conversation_id=conv)
        assert (await anna.wait_type("ack", client_id="t1"))["conversation_id"] == conv
        # Anna now follows the conversation and receives its history.
        assert (await anna.wait_type("event", conversation_id=conv, kind="message"))["text"] == "Do you ship to Norway?"
        for agent in (anna, ben):
            await agent.wait_for(lambda f: f["type"] == "queue" and f["waiting"] == [])

        # Ben is too late: a clear conflict, nothing stored.
        before = await live.event_count()
        await ben.send(type="conversation.take", client_id="t2", conversation_id=conv)
        err = await ben.wait_type("error", client_id="t2")
        assert err["code"] == "conflict"
        assert await live.event_count() == before
        # The shopper sees who joined.
        assigned = await shopper.wait_type("event", conversation_id=conv, kind="assigned")
        assert assigned["agent_id"] == anna.welcome["agent"]["id"]
    finally:
        await live.stop()


async def test_auto_assignment_picks_least_busy_agent(server: LiveServer) -> None:
    await server.add_agent("anna@shop.test", "Anna")
    await server.add_agent("ben@shop.test", "Ben")
    anna = await server.agent("anna@shop.test", AGENT_PASSWORD)
    ben = await server.agent("ben@shop.test", AGENT_PASSWORD)
    admin = await server.agent()
    await admin.send(type="presence.set", status="away")
    await admin.quiet(0.2)

    convs = []
    for i in range(4):
        shopper = await server.customer()
        convs.append((await shopper.send_message(f"question {i}"))["conversation_id"])
    loads: dict[str, int] = {}
    for conv in convs:
        summary = await server.node._conversations.get(conv)
        assert summary is not None and summary.status == "assigned"
        loads[summary.agent_id or ""] = loads.get(summary.agent_id or "", 0) + 1
    assert loads == {anna.welcome["agent"]["id"]: 2, ben.welcome["agent"]["id"]: 2}


async def test_transfer_moves_the_conversation(server: LiveServer) -> None:
    await server.add_agent("ben@shop.test", "Ben")
    admin = await server.agent()
    shopper = await server.customer()
    conv = (await shopper.send_message("I need a technical expert"))["conversation_id"]
    await admin.wait_type("event", conversation_id=conv, kind="assigned")
    ben = await server.agent("ben@shop.test", AGENT_PASSWORD)
    ben_id = ben.welcome["agent"]["id"]

    await admin.send(type="conversation.transfer", client_id="x1", conversation_id=conv, agent_id=ben_id)
    await admin.wait_type("ack", client_id="x1")
    # Ben is granted the conversation with its history; the admin's console drops it.
    update = await ben.wait_type("conversation")
    assert update["conversation"]["agent_id"] == ben_id
    assert (await ben.wait_type("event", conversation_id=conv, kind="message"))["text"] == "I need a technical expert"
    await admin.wait_for(lambda f: f["type"] == "conversation" and f["conversation"]["agent_id"] == ben_id)
    moved = await shopper.wait_for(lambda f: f["type"] == "event" and f["kind"] == "assigned"
                                   and f["agent_id"] == ben_id)
    assert moved["conversation_id"] == conv
    # Ben can answer; a plain agent who lost it can no longer write into it.
    assert (await ben.send_message("Ben here, how can I help?", conv))["type"] == "ack"
    await shopper.wait_for(lambda f: f.get("text") == "Ben here, how can I help?")


async def test_transfer_away_revokes_a_plain_agent(server: LiveServer) -> None:
    await server.add_agent("anna@shop.test", "Anna")
    await server.add_agent("ben@shop.test", "Ben")
    anna = await server.agent("anna@shop.test", AGENT_PASSWORD)
    shopper = await server.customer()
    conv = (await shopper.send_message("hello"))["conversation_id"]
    await anna.wait_type("event", conversation_id=conv, kind="assigned")
    ben_id = (await server.node._agents.by_email("ben@shop.test")).id  # type: ignore[union-attr]
    await anna.send(type="conversation.transfer", client_id="x", conversation_id=conv, agent_id=ben_id)
    await anna.wait_type("ack", client_id="x")
    err = await anna.send_message("still here?", conv)
    assert err["type"] == "error" and err["code"] == "not_found"
    cookie = await server.login("anna@shop.test", AGENT_PASSWORD)
    async with httpx.AsyncClient(base_url=server.base, cookies={"rapport_session": cookie}) as http:
        assert (await http.get(f"/api/v1/conversations/{conv}/events")).status_code == 404


async def test_private_notes_never_reach_the_customer(server: LiveServer) -> None:
    agent = await server.agent()
    shopper = await server.customer()
    conv = (await shopper.send_message("Can I get a discount?"))["conversation_id"]
    await agent.wait_type("event", conversation_id=conv, kind="assigned")

    note = await agent.send_message("Loyal customer, offer 10%", conv, private=True)
    reply = await agent.send_message("Yes: 10% off your next order.", conv)
    await agent.wait_type("event", conversation_id=conv, seq=note["seq"], kind="note")
    await shopper.wait_type("event", conversation_id=conv, seq=reply["seq"])
    assert all(f.get("kind") != "note" and "Loyal" not in str(f) for f in shopper.frames)

    # A customer cannot write notes either.
    err = await shopper.send_message("sneaky", conv, private=True)
    assert err["type"] == "error" and err["code"] == "forbidden"

    # Nor does the REST transcript show notes to the customer; the agent sees them.
    token = shopper.welcome["visitor_token"]
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.get(f"/api/v1/conversations/{conv}/events", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert [e["kind"] for e in r.json()["events"]].count("note") == 0
        http.cookies.set("rapport_session", await server.login())
        r = await http.get(f"/api/v1/conversations/{conv}/events")
        assert [e["kind"] for e in r.json()["events"]].count("note") == 1

    # A reconnecting customer's replay skips the note too.
    again = await server.customer(visitor_token=token, resume={conv: 0})
    await again.wait_type("resumed", conversation_id=conv)
    assert [e["kind"] for e in again.events(conv)].count("note") == 0


async def test_typing_and_read_receipts(server: LiveServer) -> None:
    agent = await server.agent()
    shopper = await server.customer()
    conv = (await shopper.send_message("hi"))["conversation_id"]
    await agent.wait_type("event", conversation_id=conv, kind="assigned")

    await shopper.send(type="typing", conversation_id=conv, active=True)
    typing = await agent.wait_type("typing", conversation_id=conv)
    assert typing["author_type"] == "customer" and typing["active"] is True
    await agent.send(type="typing", conversation_id=conv, active=True)
    typing = await shopper.wait_type("typing", conversation_id=conv, author_type="agent")
    assert typing["author_name"] == "Admin"

    reply = await agent.send_message("hello!", conv)
    await shopper.wait_type("event", seq=reply["seq"])
    await shopper.send(type="read", conversation_id=conv, seq=reply["seq"])
    receipt = await agent.wait_type("event", conversation_id=conv, kind="read")
    assert receipt["author_type"] == "customer" and receipt["target_seq"] == reply["seq"]
    # Reading the same point again stores nothing new.
    before = await server.event_count()
    await shopper.send(type="read", conversation_id=conv, seq=reply["seq"])
    await shopper.quiet(0.3)
    assert await server.event_count() == before

    await agent.send(type="read", conversation_id=conv, seq=1)
    receipt = await shopper.wait_type("event", conversation_id=conv, kind="read", author_type="agent")
    assert receipt["target_seq"] == 1


async def test_agent_presence_is_seen_by_the_widget(server: LiveServer) -> None:
    shopper = await server.customer()
    assert shopper.welcome["agents_online"] is False
    agent = await server.agent()
    await shopper.wait_for(lambda f: f["type"] == "presence" and f["agents_online"] is True)
    await agent.send(type="presence.set", status="away")
    await shopper.wait_for(lambda f: f["type"] == "presence" and f["agents_online"] is False)
    await agent.send(type="presence.set", status="online")
    await shopper.wait_for(lambda f: f["type"] == "presence" and f["agents_online"] is True)
    await agent.close()
    await shopper.wait_for(lambda f: f["type"] == "presence" and f["agents_online"] is False)


async def test_customers_hear_only_when_anyone_online_changes(server: LiveServer) -> None:
    # Each presence frame to customers costs one frame per connected customer: agents coming and
    # going while another stays online tell customers nothing new, so they are not told.
    await server.add_agent("second@example.com", "Second")

    def statuses(frame: dict[str, Any]) -> list[str]:
        return sorted(a.get("status", "offline") for a in frame["agents"])

    first = await server.agent()
    await first.wait_for(lambda f: f["type"] == "presence" and statuses(f) == ["offline", "online"])
    shopper = await server.customer()
    assert shopper.welcome["agents_online"] is True
    await shopper.wait_type("presence", agents_online=True)  # the one every connect gets

    second = await server.agent("second@example.com", AGENT_PASSWORD)
    await first.wait_for(lambda f: f["type"] == "presence" and statuses(f) == ["online", "online"])
    await second.send(type="presence.set", status="away")
    await first.wait_for(lambda f: f["type"] == "presence" and statuses(f) == ["away", "online"])
    await second.close()
    await first.wait_for(lambda f: f["type"] == "presence" and statuses(f) == ["offline", "online"])
    await shopper.quiet(0.3)
    assert len([f for f in shopper.frames if f["type"] == "presence"]) == 1
    await first.close()
    await shopper.wait_for(lambda f: f["type"] == "presence" and f["agents_online"] is False)


async def test_close_and_reopen(server: LiveServer) -> None:
    agent = await server.agent()
    shopper = await server.customer()
    conv = (await shopper.send_message("thanks, that's all"))["conversation_id"]
    await agent.wait_type("event", conversation_id=conv, kind="assigned")
    await agent.send(type="conversation.close", client_id="c1", conversation_id=conv)
    await agent.wait_type("ack", client_id="c1")
    closed = await shopper.wait_type("event", conversation_id=conv, kind="status", status="closed")
    assert closed["author_type"] == "agent"
    # Writing into a closed chat puts it back in the queue (and to the online agent).
    await shopper.send_message("one more thing", conv)
    await shopper.wait_type("event", conversation_id=conv, kind="status", status="waiting")
    await shopper.wait_for(lambda f: f["type"] == "event" and f["kind"] == "assigned" and f["seq"] > closed["seq"])
    await agent.wait_for(lambda f: f.get("text") == "one more thing")
