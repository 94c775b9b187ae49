"""The support report against a real server: conversations driven over the real sockets with the
store's clock under the test's control, so first-response and resolution times, their median and
90th percentile, satisfaction and the days are known exactly; its CSV, and who may read it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.chat.support_report import percentile
from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, AGENT_PASSWORD, LiveServer, test_settings

# 2026-03-10 09:00 UTC: the day the scripted conversations open.
T0 = int(dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)
EVIL = "=cmd|' /C calc'!A0"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path, auto_assign=False)


class Clock:
    """The chat store's clock (every event's `at`), moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + int(seconds * 1000)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    made = Clock()
    monkeypatch.setattr("server.store.conversations.now_ms", made)
    return made


async def act(client: WsClient, **frame: Any) -> dict[str, Any]:
    frame.setdefault("client_id", uuid.uuid4().hex)
    await client.send(**frame)
    done = await client.wait_for(lambda f: f.get("client_id") == frame["client_id"] and f["type"] in ("ack", "error"))
    assert done["type"] == "ack", done
    return done


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    await server.add_agent("ann@shop.test", "Ann")
    await server.add_agent("bob@shop.test", "Bob")
    await server.add_agent("eve@shop.test", EVIL)
    await server.add_agent("mia@shop.test", "Mia", role="marketer")
    clients = {}
    for who, email, password in (("ann", "ann@shop.test", AGENT_PASSWORD), ("mia", "mia@shop.test", AGENT_PASSWORD),
                                 ("admin", ADMIN_EMAIL, ADMIN_PASSWORD)):
        client = httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base})
        client.cookies.set("rapport_session", await server.login(email, password))
        clients[who] = client
    yield clients
    for client in clients.values():
        await client.aclose()


async def scripted_conversation(
    server: LiveServer, clock: Clock, agent: WsClient, *, start: float, reply_after: float | None,
    close_after: float | None = None, rating: int | None = None, note_after: float | None = None,
) -> str:
    """A shopper writes at `start`; the agent takes it, maybe notes, replies and closes after the
    given seconds; the shopper rates it."""
    shopper = await server.customer()
    clock.at(start)
    conversation = (await shopper.send_message("Where is my parcel?"))["conversation_id"]
    await act(agent, type="conversation.take", conversation_id=conversation)
    if note_after is not None:  # a private note is no response
        clock.at(start + note_after)
        await act(agent, type="message.send", conversation_id=conversation, text="checking the carrier", private=True)
    if reply_after is not None:
        clock.at(start + reply_after)
        await act(agent, type="message.send", conversation_id=conversation, text="It is on its way")
        clock.at(start + reply_after + 5)  # later messages change nothing
        await shopper.send_message("Thanks!", conversation_id=conversation)
        await act(agent, type="message.send", conversation_id=conversation, text="You're welcome")
    if close_after is not None:
        clock.at(start + close_after)
        await act(agent, type="conversation.close", conversation_id=conversation)
    if rating is not None:
        await act(shopper, type="conversation.rate", conversation_id=conversation, score=rating)
    await shopper.close()
    return conversation


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile(list(range(1, 11)), 0.9) == pytest.approx(9.1)
    assert percentile([40, 95, 200], 0.9) == pytest.approx(179)


async def test_the_report_measures_a_scripted_day_of_support(
    server: LiveServer, clock: Clock, http: dict[str, httpx.AsyncClient]
) -> None:
    ann = await server.agent("ann@shop.test", AGENT_PASSWORD)
    bob = await server.agent("bob@shop.test", AGENT_PASSWORD)
    eve = await server.agent("eve@shop.test", AGENT_PASSWORD)
    # Ann: a note after 30 s, her reply after 95 s, closed after 10 minutes, rated 4.
    await scripted_conversation(server, clock, ann, start=0, note_after=30, reply_after=95, close_after=600, rating=4)
    # Bob: replied after 40 s, closed after 5 minutes, rated 2.
    await scripted_conversation(server, clock, bob, start=1000, reply_after=40, close_after=300, rating=2)
    # Eve: replied after 200 s, still open.
    await scripted_conversation(server, clock, eve, start=2000, reply_after=200)
    # The next day: taken by Ann, never answered.
    await scripted_conversation(server, clock, ann, start=86_400, reply_after=None)

    period = {"start": "2026-03-10", "end": "2026-03-11"}
    r = await http["admin"].get("/api/v1/reports/support", params=period)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["days"] == [
        {"day": "2026-03-10", "conversations": 3, "first_response_median": 95.0, "first_response_p90": 179.0},
        {"day": "2026-03-11", "conversations": 1, "first_response_median": None, "first_response_p90": None}]
    team = report["team"]
    assert (team["conversations"], team["answered"], team["resolved"], team["rated"]) == (4, 3, 2, 2)
    assert team["first_response_median"] == 95.0 and team["first_response_p90"] == 179.0
    assert team["resolution_median"] == 450.0 and team["resolution_p90"] == 570.0
    assert team["satisfaction_average"] == 3.0 and team["satisfaction"] == [0, 1, 0, 1, 0]
    agents = {a["name"]: a["figures"] for a in report["agents"]}
    assert set(agents) == {"Ann", "Bob", EVIL}
    assert (agents["Ann"]["conversations"], agents["Ann"]["answered"]) == (2, 1)
    assert agents["Ann"]["first_response_median"] == 95.0 and agents["Ann"]["resolution_median"] == 600.0
    assert agents["Ann"]["satisfaction"] == [0, 0, 0, 1, 0]
    assert agents["Bob"]["first_response_median"] == 40.0 and agents["Bob"]["resolution_p90"] == 300.0
    assert agents[EVIL]["first_response_median"] == 200.0 and agents[EVIL]["resolved"] == 0

    # The reader's days: at UTC-10 the first three opened on March 9 (23:00), the fourth on the 10th.
    local = (await http["admin"].get("/api/v1/reports/support", params={**period, "start": "2026-03-09",
                                                                         "tz_offset": -600})).json()
    assert [(d["day"], d["conversations"]) for d in local["days"]] == [
        ("2026-03-09", 3), ("2026-03-10", 1), ("2026-03-11", 0)]
    # One day only.
    first = (await http["admin"].get("/api/v1/reports/support", params={"start": "2026-03-11",
                                                                         "end": "2026-03-11"})).json()
    assert first["team"]["conversations"] == 1 and first["team"]["answered"] == 0
    assert first["team"]["first_response_median"] is None

    # The CSV: one line per agent then the team's; the agent named like a formula is text.
    r = await http["mia"].get("/api/v1/reports/support.csv", params=period)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="support-2026-03-10-2026-03-11.csv"' in r.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(r.text)))
    assert lines[0][:4] == ["scope", "agent", "conversations", "answered"]
    by_agent = {line[1]: line for line in lines[1:]}
    assert "'" + EVIL in by_agent and EVIL not in by_agent
    assert by_agent["Ann"][2:5] == ["2", "1", "95.0"]
    assert lines[-1][:2] == ["team", ""] and lines[-1][3:6] == ["3", "95.0", "179.0"]

    # Who may read it: admins and marketers; an agent is refused.
    for path in ("/api/v1/reports/support", "/api/v1/reports/support.csv"):
        refused = await http["ann"].get(path, params=period)
        assert refused.status_code == 403, (path, refused.text)
    assert (await http["admin"].get("/api/v1/reports/support", params={"start": "2026-03-12", "end": "2026-03-01"})
            ).status_code == 422
    assert (await http["admin"].get("/api/v1/reports/support", params={"start": "2025-01-01", "end": "2026-03-01"})
            ).status_code == 422
    assert (await http["admin"].get("/api/v1/reports/support", params={"start": "yesterday"})).status_code == 422
    for client in (ann, bob, eve):
        await client.close()


async def test_reopening_makes_a_conversation_unresolved_until_closed_again(
    server: LiveServer, clock: Clock, http: dict[str, httpx.AsyncClient]
) -> None:
    ann = await server.agent("ann@shop.test", AGENT_PASSWORD)
    conversation = await scripted_conversation(server, clock, ann, start=0, reply_after=10, close_after=100)
    clock.at(200)
    await act(ann, type="conversation.reopen", conversation_id=conversation)
    period = {"start": "2026-03-10", "end": "2026-03-10"}
    team = (await http["admin"].get("/api/v1/reports/support", params=period)).json()["team"]
    assert (team["resolved"], team["resolution_median"]) == (0, None)
    clock.at(900)
    await act(ann, type="conversation.close", conversation_id=conversation)
    team = (await http["admin"].get("/api/v1/reports/support", params=period)).json()["team"]
    assert (team["resolved"], team["resolution_median"], team["first_response_median"]) == (1, 900.0, 10.0)
    await ann.close()
