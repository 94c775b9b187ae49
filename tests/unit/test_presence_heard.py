"""PresenceService.heard: the agents' channel carries presence and queue frames; only presence is
remembered, whatever the order of its fields, and a queue frame is not an error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from server.broker.memory import MemoryBroker
from server.chat.presence import PresenceService
from server.protocol import AgentInfo, ConversationSummary, Presence, Queue, encode_text
from server.settings import Settings
from server.store import Database
from server.store.agents import AgentStore

ANNA = AgentInfo(id="a1", name="Anna", role="agent", status="online")


@pytest.fixture
def presence(tmp_path: Path) -> PresenceService:
    # heard() reads nothing from the store or the broker: neither is opened.
    return PresenceService(AgentStore(Database(str(tmp_path / "unused.db"))), MemoryBroker(), Settings(), "p1")


async def test_a_presence_frame_is_remembered(presence: PresenceService) -> None:
    presence.heard(encode_text(Presence(agents_online=True, agents=[ANNA])))
    assert await presence.anyone_online() is True
    presence.heard(encode_text(Presence(agents_online=False, agents=[])))
    assert await presence.anyone_online() is False


async def test_presence_is_decoded_not_prefix_matched(presence: PresenceService) -> None:
    # Another encoder (or a future msgspec) may put the tag after the fields.
    presence.heard('{"agents_online": true, "agents": [{"id": "a1", "name": "Anna", "role": "agent",'
                   ' "status": "online"}], "type": "presence"}')
    assert await presence.anyone_online() is True
    presence.heard('{ "type" : "presence", "agents_online": false, "agents": []}')
    assert await presence.anyone_online() is False


async def test_the_customers_frame_without_the_list_changes_nothing(presence: PresenceService) -> None:
    presence.heard(encode_text(Presence(agents_online=True, agents=[ANNA])))
    presence.heard(encode_text(Presence(agents_online=False)))  # what customers get: no agents list
    assert await presence.anyone_online() is True


async def test_queue_frames_are_skipped_without_an_error(
    presence: PresenceService, caplog: pytest.LogCaptureFixture
) -> None:
    presence.heard(encode_text(Presence(agents_online=True, agents=[ANNA])))
    waiting = ConversationSummary(id="c1", status="waiting", last_seq=1, created_at=0, customer_id="u1")
    presence.heard(encode_text(Queue(waiting=[waiting])))
    presence.heard(encode_text(Queue(waiting=[])))
    assert await presence.anyone_online() is True
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(
    "frame",
    [
        "{not json",
        "[1, 2]",
        '{"agents_online": true}',  # no type
        '{"type": 5}',
        '{"type": "presence"}',  # agents_online missing
        '{"type": "presence", "agents_online": "yes"}',
        '{"type": "presence", "agents_online": true, "agents": [{"id": "a1"}]}',
    ],
)
async def test_a_malformed_frame_is_logged_and_forgets_nothing(
    presence: PresenceService, caplog: pytest.LogCaptureFixture, frame: str
) -> None:
    presence.heard(encode_text(Presence(agents_online=True, agents=[ANNA])))
    presence.heard(frame)
    assert await presence.anyone_online() is True
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].name == "rapport.presence"
    assert "malformed frame on the agents' channel" in errors[0].getMessage()
