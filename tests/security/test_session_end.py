"""Point 6: ending a console session ends it on the server (CVE-2021-3740): logout, password
change and deactivation refuse the old cookie at once and close the sockets opened with it, on
every server process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import ADMIN_PASSWORD, AGENT_PASSWORD, LiveServer, ProcessServer, Server
from tests.support.redis_server import RedisServer

SESSION_ENDED = 4504
NEW_PASSWORD = "lantern-orbit-violet-42"


async def agent_socket(server: Server, cookie: str) -> WsClient:
    client = await WsClient.connect(f"{server.ws}/ws/agent", cookie=cookie)
    welcome = await client.hello()
    assert welcome["type"] == "welcome", welcome
    return client


def cookie_client(server: Server, cookie: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}, timeout=30)
    client.cookies.set("rapport_session", cookie)
    return client


async def status_with(server: Server, cookie: str, method: str = "GET", path: str = "/api/v1/session") -> int:
    async with cookie_client(server, cookie) as http:
        return (await http.request(method, path)).status_code


async def closed_quickly(client: WsClient, within: float = 2.0) -> tuple[int | None, float]:
    """The close code and how long it took; (None, ...) if the socket was still open after `within`."""
    began = time.monotonic()
    try:
        code = await client.closed_with(timeout=within)
    except TimeoutError:
        code = None
    return code, time.monotonic() - began


async def still_served(client: WsClient) -> None:
    await client.send(type="resume", conversation_id="c_nothing_here", after=0)
    answer = await client.wait_type("error", timeout=3)
    assert answer["code"] == "not_found", answer


async def test_a_replayed_cookie_after_logout_is_refused_and_its_socket_closed(server: LiveServer) -> None:
    cookie = await server.login()
    socket = await agent_socket(server, cookie)
    async with cookie_client(server, cookie) as http:
        assert (await http.delete("/api/v1/session")).status_code == 204
    code, took = await closed_quickly(socket)
    assert code == SESSION_ENDED, code
    assert took < 1.5, f"closed after {took:.1f} s"
    # The attacker who copied the cookie replays it: REST and a new socket alike.
    assert await status_with(server, cookie) == 401
    assert await status_with(server, cookie, "GET", "/api/v1/conversations") == 401
    replay = await WsClient.connect(f"{server.ws}/ws/agent", cookie=cookie)
    assert await replay.closed_with(timeout=3) in (4500, SESSION_ENDED)
    assert not [f for f in replay.frames if f["type"] == "welcome"]


async def test_a_password_change_ends_the_other_sessions_but_not_the_current_one(server: LiveServer) -> None:
    mine = await server.login()
    stolen = await server.login()  # the same account, logged in elsewhere (or by a thief)
    my_socket = await agent_socket(server, mine)
    their_socket = await agent_socket(server, stolen)
    async with cookie_client(server, mine) as http:
        r = await http.post("/api/v1/session/password",
                            json={"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD})
        assert r.status_code == 204, r.text
    code, took = await closed_quickly(their_socket)
    assert code == SESSION_ENDED and took < 1.5, (code, took)
    assert await status_with(server, stolen) == 401
    # The session that changed it goes on, socket included.
    assert await status_with(server, mine) == 200
    await still_served(my_socket)
    # The old password is gone, the new one works.
    async with httpx.AsyncClient(base_url=server.base) as http:
        old = await http.post("/api/v1/session", json={"email": "admin@example.com", "password": ADMIN_PASSWORD})
        new = await http.post("/api/v1/session", json={"email": "admin@example.com", "password": NEW_PASSWORD})
    assert (old.status_code, new.status_code) == (401, 200)


async def test_a_wrong_current_password_changes_nothing(server: LiveServer) -> None:
    """A stolen session (cookie only) cannot take the account over by changing its password."""
    stolen = await server.login()
    async with cookie_client(server, stolen) as http:
        r = await http.post("/api/v1/session/password",
                            json={"current_password": "i-do-not-know-it", "new_password": NEW_PASSWORD})
    assert r.status_code in (401, 403), r.text
    async with httpx.AsyncClient(base_url=server.base) as http:
        ok = await http.post("/api/v1/session", json={"email": "admin@example.com", "password": ADMIN_PASSWORD})
    assert ok.status_code == 200


async def test_deactivating_an_agent_closes_their_sockets_and_refuses_their_cookie(server: LiveServer) -> None:
    ben_id = await server.add_agent("ben@shop.test", "Ben")
    ben = await server.login("ben@shop.test", AGENT_PASSWORD)
    ben_socket = await agent_socket(server, ben)
    async with cookie_client(server, await server.login()) as admin:
        r = await admin.patch(f"/api/v1/accounts/{ben_id}", json={"disabled": True})
        assert r.status_code == 200 and r.json()["disabled"] is True, r.text
    code, took = await closed_quickly(ben_socket)
    assert code == SESSION_ENDED and took < 1.5, (code, took)
    assert await status_with(server, ben) == 401
    async with httpx.AsyncClient(base_url=server.base) as http:
        again = await http.post("/api/v1/session", json={"email": "ben@shop.test", "password": AGENT_PASSWORD})
    assert again.status_code == 401, again.text
    replay = await WsClient.connect(f"{server.ws}/ws/agent", cookie=ben)
    assert await replay.closed_with(timeout=3) in (4500, SESSION_ENDED)


@pytest.fixture
def two_processes(settings: Settings, redis_server: RedisServer) -> Iterator[tuple[ProcessServer, ProcessServer]]:
    shared = msgspec.structs.replace(settings, redis_url=redis_server.url)
    a = ProcessServer(shared).start()
    try:
        b = ProcessServer(shared).start()
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


async def test_sessions_end_on_every_process(two_processes: tuple[ProcessServer, ProcessServer]) -> None:
    a, b = two_processes
    # Logout on A closes the socket the same session opened on B.
    cookie = await a.login()
    on_b = await agent_socket(b, cookie)
    async with cookie_client(a, cookie) as http:
        assert (await http.delete("/api/v1/session")).status_code == 204
    code, took = await closed_quickly(on_b, within=3)
    assert code == SESSION_ENDED and took < 2, (code, took)
    assert await status_with(b, cookie) == 401
    # A password change on B closes the other session's socket on A, and keeps B's own.
    mine, other = await b.login(), await a.login()
    mine_on_b, other_on_a = await agent_socket(b, mine), await agent_socket(a, other)
    async with cookie_client(b, mine) as http:
        r = await http.post("/api/v1/session/password",
                            json={"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD})
        assert r.status_code == 204, r.text
    code, took = await closed_quickly(other_on_a, within=3)
    assert code == SESSION_ENDED and took < 2, (code, took)
    await still_served(mine_on_b)
    assert await status_with(a, other) == 401
