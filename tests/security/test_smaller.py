"""Point 13: weak passwords, a weak first-admin password, redirects built from the Host header,
slow request heads, over-long or oddly typed JWT expiries, and the first admin after a CLI agent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import StartLiveServer
from tests.security.conftest import close_code, widget
from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, ROOT, LiveServer, ProcessServer, test_settings
from tests.support.shop import SHOP_SECRET

WEAK = {
    "11 characters": "abcdefghij1",
    "a common one": "password1234",
    "a common one with a suffix": "Password2024!",
    "a common one twice": "qwertyqwerty",
    "digits": "123456789012",
    "one character": "aaaaaaaaaaaaaaaa",
    "the e-mail in it": "ben.smith-is-my-name",
}


async def test_an_admin_cannot_create_an_account_with_a_weak_password(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as http:
        http.cookies.set("rapport_session", await server.login())
        for what, password in WEAK.items():
            r = await http.post("/api/v1/accounts", json={
                "email": "ben.smith@shop.test", "name": "Ben", "password": password})
            assert r.status_code == 422, f"{what}: {r.status_code} {r.text}"
        assert await server.node._agents.by_email("ben.smith@shop.test") is None
        ok = await http.post("/api/v1/accounts", json={
            "email": "ben.smith@shop.test", "name": "Ben", "password": "copper-kettle-mountain-9"})
        assert ok.status_code == 201, ok.text


async def test_an_agent_cannot_change_to_a_weak_password(server: LiveServer) -> None:
    await server.add_agent("ben.smith@shop.test", "Ben")
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}) as http:
        http.cookies.set("rapport_session", await server.login("ben.smith@shop.test", "staff-pass-22"))
        for what, password in WEAK.items():
            r = await http.post("/api/v1/session/password",
                                json={"current_password": "staff-pass-22", "new_password": password})
            assert r.status_code == 422, f"{what}: {r.status_code} {r.text}"
        assert (await http.get("/api/v1/session")).status_code == 200
    assert await server.login("ben.smith@shop.test", "staff-pass-22")


def cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update({"DATABASE_URL": str(database), "RAPPORT_ARGON2_TIME_COST": "1", "RAPPORT_ARGON2_MEMORY_KIB": "8",
                "RAPPORT_ARGON2_PARALLELISM": "1"})
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("password", ["password", "short-pw1", "password1234"])
def test_the_command_line_refuses_a_weak_agent_password(tmp_path: Path, password: str) -> None:
    """`rapport agent add` is another way in: the same rules as the API."""
    done = cli(tmp_path / "rapport.db", "agent", "add", "--email", "cli@shop.test", "--name", "Cli",
               "--password", password)
    assert done.returncode != 0, f"created with {password!r}: {done.stdout}{done.stderr}"


def test_a_server_with_a_weak_first_admin_password_refuses_to_start(tmp_path: Path) -> None:
    """`rapport serve` as ProcessServer runs it, with RAPPORT_ADMIN_PASSWORD=a: it must exit, saying
    why, rather than serve (or sit there serving nothing)."""
    server = ProcessServer(test_settings(tmp_path, admin_password="a"))
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port",
                                 str(server.port)], cwd=ROOT, env=server.env(), stdout=out, stderr=subprocess.STDOUT)
    ProcessServer.started.append(proc)  # killed at the session's end whatever happens here
    serving = False
    deadline = time.monotonic() + 6  # a refused start exits within a second or two
    while proc.poll() is None and time.monotonic() < deadline and not serving:
        try:
            serving = httpx.get(f"{server.base}/readyz", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            time.sleep(0.1)
    running = proc.poll() is None
    if running:
        proc.kill()
        proc.wait(5)
    said = log.read_text(errors="replace")
    assert not serving, "it serves, with an admin password of one character"
    assert not running, f"refused, but still running 6 s later (it never exits):\n{said[-300:]}"
    assert proc.returncode != 0, said[-600:]
    assert "RAPPORT_ADMIN_PASSWORD" in said, said[-600:]


async def test_the_first_admin_is_made_even_after_a_cli_agent(
    tmp_path: Path, live_server_factory: StartLiveServer
) -> None:
    database = tmp_path / "fresh.db"
    done = cli(database, "agent", "add", "--email", "early@shop.test", "--name", "Early",
               "--password", "dawn-bird-lantern-3")
    assert done.returncode == 0, done.stderr
    server = await live_server_factory(test_settings(tmp_path, database_path=str(database)))
    assert await server.login(ADMIN_EMAIL, ADMIN_PASSWORD)


async def test_no_redirect_is_built_from_the_host_header(server: LiveServer) -> None:
    paths = ["/api/v1/segments/", "/api/v1/campaigns/", "/api/v1/session/", "/console/", "/console",
             "/widget", "/static", "/healthz/", "//evil.test/", "/console/../api/v1/session"]
    async with httpx.AsyncClient(base_url=server.base, follow_redirects=False) as http:
        for path in paths:
            for headers in ({"Host": "evil.test"}, {"Host": "evil.test", "X-Forwarded-Host": "evil.test"}):
                r = await http.get(path, headers=headers)
                location = r.headers.get("location", "")
                assert "evil.test" not in location, (path, r.status_code, location)


async def test_a_request_head_sent_a_byte_a_second_is_cut_off(
    tmp_path: Path, live_server_factory: StartLiveServer
) -> None:
    server = await live_server_factory(test_settings(tmp_path, http_idle_timeout=1.5))
    host, port = server.base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow\r\nX-Pad: aaaaaaaaaaaaaaaaaaaa\r\n\r\n"
    began = time.monotonic()
    closed_after = None
    try:
        for byte in head:
            if time.monotonic() - began > 1.5 + 3.5:
                break  # long past the deadline: no need to send the rest
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(100), 1.0) == b"":
                    closed_after = time.monotonic() - began
                    break
            except TimeoutError:
                pass
    except (ConnectionError, OSError):
        closed_after = time.monotonic() - began
    finally:
        writer.close()
    assert closed_after is not None, f"still open after {time.monotonic() - began:.0f} s of a slow head"
    assert closed_after < 1.5 + 1.5, f"closed only after {closed_after:.1f} s"
    # Others are served meanwhile and after.
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.get("/healthz")).status_code == 200


def token_with(**claims: object) -> str:
    return jwt.encode({"sub": "long-lived", **claims}, SHOP_SECRET, algorithm="HS256")


@pytest.mark.parametrize("exp", [
    pytest.param(lambda: int(time.time()) + 100 * 365 * 86400, id="100 years ahead"),
    pytest.param(lambda: int(time.time()) + 8 * 86400, id="8 days ahead"),
    pytest.param(lambda: str(int(time.time()) + 3600), id="a string"),
    pytest.param(lambda: [int(time.time()) + 3600], id="a list"),
    pytest.param(lambda: True, id="a boolean"),
    pytest.param(lambda: 1e308, id="a huge float"),
    pytest.param(lambda: int(time.time()) - 60, id="expired a minute ago"),
])
async def test_a_customer_jwt_with_a_bad_expiry_is_refused(server: LiveServer, exp: object) -> None:
    token = token_with(exp=exp())  # type: ignore[operator]
    client = await widget(server, identity={"user_id": "long-lived", "token": token})
    assert client.welcome["type"] != "welcome", client.welcome
    assert await close_code(client) == 4500
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.get("/api/v1/me/vouchers", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert await server.node.db.fetchone("SELECT 1 FROM customers WHERE external_id = 'long-lived'") is None


async def test_a_customer_jwt_of_an_hour_is_accepted(server: LiveServer) -> None:
    """The control for the test above: a sound token for the same user gets in."""
    client = await widget(server, identity={"user_id": "long-lived", "token": token_with(exp=int(time.time()) + 3600)})
    assert client.welcome["type"] == "welcome", client.welcome
