"""Real frames from a real server match the published schema (docs/asyncapi.json)."""

from __future__ import annotations

from tests.support.live import AGENT_PASSWORD, LiveServer
from tests.support.schema_check import validate


async def test_every_frame_on_the_wire_matches_the_published_schema(server: LiveServer) -> None:
    await server.add_agent("ben@shop.test", "Ben")
    admin = await server.agent()
    ben = await server.agent("ben@shop.test", AGENT_PASSWORD)
    shopper = await server.customer()
    conv = (await shopper.send_message("hello"))["conversation_id"]
    assigned = await shopper.wait_type("event", conversation_id=conv, kind="assigned")
    agent, other = (admin, ben) if assigned["agent_id"] == admin.welcome["agent"]["id"] else (ben, admin)
    await agent.wait_type("event", conversation_id=conv, kind="assigned")
    await shopper.send(type="typing", conversation_id=conv, active=True)
    await agent.wait_type("typing")
    reply = await agent.send_message("hi!", conv)
    await agent.send_message("note", conv, private=True)
    await shopper.send(type="read", conversation_id=conv, seq=reply["seq"])
    await agent.wait_type("event", kind="read")
    await shopper.send(type="nonsense")
    await shopper.wait_type("error")
    back = await server.customer(visitor_token=shopper.welcome["visitor_token"], resume={conv: 1}, epoch="other")
    await back.wait_type("reset")
    await agent.send(type="conversation.transfer", client_id="t", conversation_id=conv,
                     agent_id=other.welcome["agent"]["id"])
    await other.wait_type("conversation")
    await other.wait_type("resumed")
    for client in (agent, other, shopper, back):
        await client.quiet(0.2)

    seen: set[str] = set()
    for client in (agent, other, shopper, back):
        for frame in client.frames:
            validate(frame, "server")
            seen.add(frame["type"])
    assert seen >= {"welcome", "ack", "error", "event", "resumed", "reset", "typing", "presence", "queue",
                    "conversation"}
