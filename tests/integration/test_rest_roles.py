"""The REST role checks are reached: a console session of the wrong role gets 403 `forbidden`
from the role check itself (not from a missing login or origin), and the right role passes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.live import AGENT_PASSWORD, LiveServer

CAMPAIGN = {"name": "Spring", "kind": "offer", "audience": {"type": "all"}, "title": "Hi", "body": "Spring sale"}


@pytest.fixture
async def sessions(server: LiveServer) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One HTTP client per role, each logged in to the console (the console's own origin)."""
    await server.add_agent("mia@shop.test", "Mia", role="marketer")
    await server.add_agent("ben@shop.test", "Ben", role="agent")
    logins = {"marketer": ("mia@shop.test", AGENT_PASSWORD), "agent": ("ben@shop.test", AGENT_PASSWORD),
              "admin": ("admin@example.com", "console-pass-1")}
    clients = {}
    for role, (email, password) in logins.items():
        client = httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base})
        client.cookies.set("rapport_session", await server.login(email, password))
        clients[role] = client
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


def forbidden_by_role(r: httpx.Response, *roles: str) -> None:
    assert r.status_code == 403, (r.status_code, r.text)
    problem = r.json()
    assert problem["code"] == "forbidden" and problem["detail"] == f"needs role {' or '.join(roles)}", problem


async def test_a_marketer_cannot_list_conversations(sessions: dict[str, httpx.AsyncClient]) -> None:
    forbidden_by_role(await sessions["marketer"].get("/api/v1/conversations"), "agent", "admin")
    for role in ("agent", "admin"):
        r = await sessions[role].get("/api/v1/conversations")
        assert r.status_code == 200 and r.json() == {"conversations": []}, (role, r.text)


async def test_an_agent_cannot_create_or_list_campaigns(sessions: dict[str, httpx.AsyncClient], server: LiveServer
                                                        ) -> None:
    forbidden_by_role(await sessions["agent"].post("/api/v1/campaigns", json=CAMPAIGN), "marketer", "admin")
    forbidden_by_role(await sessions["agent"].get("/api/v1/campaigns"), "marketer", "admin")
    row = await server.node.db.fetchone("SELECT COUNT(*) AS n FROM campaigns")
    assert row is not None and row["n"] == 0  # nothing was created by the refused call
    made = []
    for role in ("marketer", "admin"):
        r = await sessions[role].post("/api/v1/campaigns", json={**CAMPAIGN, "name": f"by {role}"})
        assert r.status_code == 201, (role, r.text)
        made.append(r.json()["id"])
    listed = (await sessions["marketer"].get("/api/v1/campaigns")).json()["campaigns"]
    assert sorted(c["id"] for c in listed) == sorted(made)
