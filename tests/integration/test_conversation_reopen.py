"""Reopening a closed conversation with the `conversation.reopen` frame, over real sockets: by its
agent (it stays theirs) and by its shopper (back to the queue); refused when it is not closed
or not theirs; a resend is answered as before."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import LiveServer, test_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Assignment by hand, so where a reopened conversation goes is seen, not hidden by auto-assign.
    return msgspec.structs.replace(test_settings(tmp_path), auto_assign=False)


async def closed_chat(server: LiveServer) -> tuple[WsClient, WsClient, str]:
    """An agent and a shopper whose conversation the agent took, then closed."""
    agent = await server.agent()
    shopper = await server.customer()
    conv = (await shopper.send_message("is the blue one in stock?"))["conversation_id"]
    await agent.wait_for(lambda f: f["type"] == "queue" and [c["id"] for c in f["waiting"]] == [conv])
    await agent.send(type="conversation.take", client_id="take", conversation_id=conv)
    await agent.wait_type("ack", client_id="take")
    await agent.send(type="conversation.close", client_id="close", conversation_id=conv)
    await agent.wait_type("ack", client_id="close")
    await shopper.wait_type("event", conversation_id=conv, kind="status", status="closed")
    return agent, shopper, conv


async def test_its_agent_reopens_it_and_keeps_it(server: LiveServer) -> None:
    agent, shopper, conv = await closed_chat(server)
    me = agent.welcome["agent"]["id"]
    await agent.send(type="conversation.reopen", client_id="re1", conversation_id=conv)
    ack = await agent.wait_type("ack", client_id="re1")
    assert ack["conversation_id"] == conv and not ack.get("duplicate")
    for side in (agent, shopper):
        event = await side.wait_type("event", conversation_id=conv, seq=ack["seq"])
        assert (event["kind"], event["status"], event["agent_id"]) == ("status", "assigned", me)
        assert event["author_type"] == "agent" and event["client_id"] == "re1"
    update = await agent.wait_for(lambda f: f["type"] == "conversation" and f["conversation"]["status"] == "assigned")
    assert update["conversation"]["id"] == conv and update["conversation"]["agent_id"] == me
    # It is a live conversation again: both sides write into it.
    reply = await agent.send_message("yes, size M too", conv)
    assert reply["type"] == "ack" and reply["seq"] == ack["seq"] + 1
    assert (await shopper.wait_type("event", conversation_id=conv, seq=reply["seq"]))["text"] == "yes, size M too"

    # The same frame again (a resend after a reconnect): the first answer, nothing stored.
    before = await server.event_count()
    await agent.send(type="conversation.reopen", client_id="re1", conversation_id=conv)
    again = await agent.wait_for(lambda f: f["type"] == "ack" and f["client_id"] == "re1" and f.get("duplicate"))
    assert again["seq"] == ack["seq"]
    assert await server.event_count() == before


async def test_its_shopper_reopens_it_into_the_queue(server: LiveServer) -> None:
    agent, shopper, conv = await closed_chat(server)
    await shopper.send(type="conversation.reopen", client_id="re2", conversation_id=conv)
    ack = await shopper.wait_type("ack", client_id="re2")
    event = await shopper.wait_type("event", conversation_id=conv, seq=ack["seq"])
    assert (event["kind"], event["status"], event["author_type"]) == ("status", "waiting", "customer")
    assert event.get("agent_id") is None
    queue = await agent.wait_for(lambda f: f["type"] == "queue" and f["waiting"])
    assert [(c["id"], c["status"]) for c in queue["waiting"]] == [(conv, "waiting")]


async def test_reopening_what_is_not_closed_or_not_yours_is_refused(server: LiveServer) -> None:
    agent, shopper, conv = await closed_chat(server)
    await agent.send(type="conversation.reopen", client_id="re3", conversation_id=conv)
    await agent.wait_type("ack", client_id="re3")
    before = await server.event_count()

    # Open already: a conflict, with the client's id, nothing stored.
    await agent.send(type="conversation.reopen", client_id="re4", conversation_id=conv)
    assert (await agent.wait_type("error", client_id="re4"))["code"] == "conflict"
    await shopper.send(type="conversation.reopen", client_id="re5", conversation_id=conv)
    assert (await shopper.wait_type("error", client_id="re5"))["code"] == "conflict"
    # Another shopper's conversation, closed or not, does not exist for them.
    await agent.send(type="conversation.close", client_id="close2", conversation_id=conv)
    await agent.wait_type("ack", client_id="close2")
    stranger = await server.customer()
    await stranger.send(type="conversation.reopen", client_id="re6", conversation_id=conv)
    assert (await stranger.wait_type("error", client_id="re6"))["code"] == "not_found"
    await stranger.send(type="conversation.reopen", client_id="re7", conversation_id="cv_nothing")
    assert (await stranger.wait_type("error", client_id="re7"))["code"] == "not_found"
    assert await server.event_count() == before + 1  # the close, and nothing else
