"""Transcripts over REST, paged and authorised; bad requests answered with RFC 9457 problems."""

from __future__ import annotations

from typing import Any

import httpx

from server.settings import Settings
from tests.support.live import AGENT_PASSWORD, LiveServer
from tests.support.shop import customer_token


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["status"] == status and body["title"], body
    return body


async def test_transcripts_are_paged_and_private_notes_stay_with_agents(server: LiveServer) -> None:
    agent = await server.agent()
    shopper = await server.customer()
    conv = (await shopper.send_message("message 1"))["conversation_id"]
    await agent.wait_type("event", conversation_id=conv, kind="message")
    for n in range(2, 5):
        assert (await shopper.send_message(f"message {n}", conv))["type"] == "ack"
    # Six notes in a row: at least one of a customer's pages of 3 holds nothing they may see,
    # and the paging must still go on past it.
    for n in range(6):
        assert (await agent.send_message(f"note {n}", conv, private=True))["type"] == "ack"
    for n in range(5, 8):
        assert (await shopper.send_message(f"message {n}", conv))["type"] == "ack"
    cookie = await server.login()

    async with httpx.AsyncClient(base_url=server.base) as http:
        async def pages(**auth: Any) -> list[dict[str, Any]]:
            seen: list[dict[str, Any]] = []
            after: int | None = 0
            while after is not None:
                r = await http.get(f"/api/v1/conversations/{conv}/events", params={"after": after, "limit": 3}, **auth)
                assert r.status_code == 200, r.text
                page = r.json()
                assert len(page["events"]) <= 3
                seen += page["events"]
                after = page["next_after"]
            return seen

        as_agent = await pages(headers={"Cookie": f"rapport_session={cookie}"})
        as_customer = await pages(headers={"Authorization": f"Bearer {shopper.welcome['visitor_token']}"})

    agent_texts = [e["text"] for e in as_agent if e["kind"] in ("message", "note")]
    assert agent_texts == [f"message {n}" for n in range(1, 5)] + [f"note {n}" for n in range(6)] + [
        f"message {n}" for n in range(5, 8)
    ]
    assert [e["seq"] for e in as_agent] == sorted({e["seq"] for e in as_agent})  # in order, none twice
    customer_texts = [e["text"] for e in as_customer if e["kind"] == "message"]
    assert customer_texts == [f"message {n}" for n in range(1, 8)]
    assert not any(e.get("private") for e in as_customer)


async def test_nobody_reads_a_conversation_that_is_not_theirs(server: LiveServer, settings: Settings) -> None:
    await server.add_agent("ben@shop.test", "Ben")
    agent = await server.agent()
    alice = await server.customer()
    conv = (await alice.send_message("my address is 1 Main St"))["conversation_id"]
    await agent.wait_type("event", conversation_id=conv, kind="message")  # assigned to the admin
    mallory = await server.customer()
    await mallory.send_message("hi")
    ben_cookie = await server.login("ben@shop.test", AGENT_PASSWORD)
    path = f"/api/v1/conversations/{conv}/events"

    async with httpx.AsyncClient(base_url=server.base) as http:
        _problem(await http.get(path), 401, "unauthorized")
        _problem(await http.get(path, headers={"Authorization": "Bearer garbage"}), 401, "unauthorized")
        other_visitor = {"Authorization": f"Bearer {mallory.welcome['visitor_token']}"}
        _problem(await http.get(path, headers=other_visitor), 404, "not_found")
        some_customer = {"Authorization": f"Bearer {customer_token('c-404')}"}
        _problem(await http.get(path, headers=some_customer), 404, "not_found")
        # Ben is an agent, but this one is the admin's: not his to read.
        _problem(await http.get(path, headers={"Cookie": f"rapport_session={ben_cookie}"}), 404, "not_found")
        # An id that does not exist looks exactly like one that is not yours.
        missing = await http.get("/api/v1/conversations/cv_doesnotexist/events", headers=other_visitor)
        assert _problem(missing, 404, "not_found")["detail"].replace("cv_doesnotexist", conv) == (
            await http.get(path, headers=other_visitor)
        ).json()["detail"]
        # Alice can.
        own = await http.get(path, headers={"Authorization": f"Bearer {alice.welcome['visitor_token']}"})
        assert own.status_code == 200 and own.json()["events"][0]["text"] == "my address is 1 Main St"


async def test_bad_requests_get_problems_and_change_nothing(server: LiveServer) -> None:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    key = {"Authorization": f"Bearer {token}"}
    before = await server.event_count()
    async with httpx.AsyncClient(base_url=server.base) as http:
        # Query parameters out of range or of the wrong type.
        cookie = f"rapport_session={await server.login()}"
        for params in ({"limit": 0}, {"limit": 501}, {"limit": "ten"}, {"after": -1}):
            _problem(await http.get("/api/v1/conversations/cv_x/events", params=params, headers={"Cookie": cookie}),
                     422, "invalid_request")
        # Bodies: not JSON, wrong shape, unknown fields, too large.
        _problem(await http.put("/api/v1/customers/u1", content=b"{nope", headers=key), 400, "bad_json")
        _problem(await http.put("/api/v1/customers/u1", json={"loyalty_points": "many"}, headers=key),
                 422, "invalid_request")
        _problem(await http.put("/api/v1/customers/u1", json={"is_admin": True}, headers=key), 422, "invalid_request")
        _problem(await http.post("/api/v1/orders/events", content=b"x" * (2 << 20), headers=key), 413, "too_long")
        # Wrong password, then too many of them.
        for _ in range(3):
            _problem(await http.post("/api/v1/session", json={"email": "admin@example.com", "password": "wrong"}),
                     401, "unauthorized")
        statuses = set()
        for _ in range(20):
            r = await http.post("/api/v1/session", json={"email": "admin@example.com", "password": "wrong"})
            statuses.add(r.status_code)
        assert 429 in statuses
        # A cookie-authenticated write from another site.
        r = await http.post("/api/v1/api-keys", json={"name": "stolen", "scopes": ["*"]},
                            headers={"Cookie": cookie, "Origin": "https://evil.example"})
        _problem(r, 403, "forbidden")
        _problem(await http.delete("/openapi.json"), 405, "invalid_request")
        # An unknown path is a problem too, not an HTML page.
        _problem(await http.get("/api/v1/nothing-here"), 404, "not_found")
        assert (await http.get("/api/v1/customers/u1", headers=key)).status_code == 404
    assert await server.event_count() == before


async def test_password_guessing_is_throttled_per_email(server: LiveServer) -> None:
    await server.add_agent("ben@shop.test", "Ben")
    async with httpx.AsyncClient(base_url=server.base) as http:
        async def login(email: str, password: str) -> httpx.Response:
            return await http.post("/api/v1/session", json={"email": email, "password": password})

        for _ in range(10):
            assert (await login("ben@shop.test", "guess")).status_code == 401
        # The eleventh try is refused, even with the right password; other agents log in as usual.
        refused = await login("ben@shop.test", AGENT_PASSWORD)
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert (await login("admin@example.com", "console-pass-1")).status_code == 200
