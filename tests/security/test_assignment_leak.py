"""Point 2: an agent who looked at a waiting chat (frame `resume`) must stop receiving it once it
is assigned to someone else: no private notes, no customer messages, no typing into it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from tests.security.conftest import answer
from tests.support.client import WsClient
from tests.support.live import AGENT_PASSWORD, LiveServer, test_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path, auto_assign=False)


@pytest.mark.parametrize("how", ["take", "transfer"])
async def test_an_agent_who_resumed_a_waiting_chat_loses_it_when_it_is_assigned_to_another(
    server: LiveServer, how: str
) -> None:
    await server.add_agent("ann@shop.test", "Ann")
    bob_id = await server.add_agent("bob@shop.test", "Bob")
    shopper = await server.customer()
    conv = (await shopper.send_message("Where is my parcel?"))["conversation_id"]

    ann = await server.agent("ann@shop.test", AGENT_PASSWORD)
    await ann.send(type="resume", conversation_id=conv, after=0)
    await ann.wait_type("resumed", conversation_id=conv)
    assert "Where is my parcel?" in ann.texts(conv)  # the queue is readable: that part is allowed

    bob = await server.agent("bob@shop.test", AGENT_PASSWORD)
    if how == "take":
        took = await answer(bob, type="conversation.take", conversation_id=conv)
    else:
        admin = await server.agent()
        took = await answer(admin, type="conversation.transfer", conversation_id=conv, agent_id=bob_id)
    assert took["type"] == "ack", took
    await bob.wait_type("conversation", timeout=5)

    secrets = ["NOTE: customer's card ends 4242", "My address is 1 Main St, flat 3", "BOB: refund sent to your card"]
    assert (await bob.send_message(secrets[0], conv, private=True))["type"] == "ack"
    assert (await shopper.send_message(secrets[1], conv))["type"] == "ack"
    assert (await bob.send_message(secrets[2], conv))["type"] == "ack"
    await bob.wait_for(lambda f: f.get("text") == secrets[1])  # Bob, the assignee, does get it

    # Ann tries to type into it and to follow it again.
    await ann.send(type="typing", conversation_id=conv, active=True)
    typing_refused = await ann.wait_type("error", timeout=5)
    await ann.send(type="resume", conversation_id=conv, after=0)
    resume_refused = await ann.wait_type("error", timeout=5)
    await ann.quiet(0.5)
    await shopper.quiet(0.3)

    leaked = [f for f in ann.frames if any(s in str(f) for s in secrets)]
    assert not leaked, f"Ann received after the assignment: {leaked}"
    assert typing_refused["code"] in ("not_found", "forbidden"), typing_refused
    assert resume_refused["code"] in ("not_found", "forbidden"), resume_refused
    typing_seen = [f for f in shopper.frames if f["type"] == "typing" and f.get("author_name") == "Ann"]
    assert not typing_seen, typing_seen
    async with httpx.AsyncClient(base_url=server.base) as http:
        http.cookies.set("rapport_session", await server.login("ann@shop.test", AGENT_PASSWORD))
        r = await http.get(f"/api/v1/conversations/{conv}/events")
    assert r.status_code == 404 and not any(s in r.text for s in secrets), r.text


async def test_an_agent_transferred_away_stops_receiving(server: LiveServer) -> None:
    """The previous assignee (not only a looker) is cut off as well when the chat is transferred."""
    await server.add_agent("ann@shop.test", "Ann")
    bob_id = await server.add_agent("bob@shop.test", "Bob")
    shopper = await server.customer()
    conv = (await shopper.send_message("Hello?"))["conversation_id"]
    ann = await server.agent("ann@shop.test", AGENT_PASSWORD)
    assert (await answer(ann, type="conversation.take", conversation_id=conv))["type"] == "ack"
    assert (await answer(ann, type="conversation.transfer", conversation_id=conv, agent_id=bob_id))["type"] == "ack"
    bob: WsClient = await server.agent("bob@shop.test", AGENT_PASSWORD)
    await bob.wait_type("resumed", conversation_id=conv)
    secret = "NOTE after transfer: VIP, offer 20%"
    assert (await bob.send_message(secret, conv, private=True))["type"] == "ack"
    await ann.quiet(0.5)
    assert not [f for f in ann.frames if secret in str(f)]
