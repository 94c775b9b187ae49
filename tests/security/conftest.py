"""Helpers shared by the attack suite: credentials made over HTTP as a shop would, addresses
played through X-Forwarded-For (uvicorn trusts it from loopback), memory and latency probes."""

from __future__ import annotations

import contextlib
import sqlite3
import statistics
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.client import WsClient
from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, Server

# A sibling of the shop's hosts: same-site for cookies (SameSite stops nothing), another origin.
EVIL_ORIGIN = "https://evil.shop.test"


def from_address(address: str) -> dict[str, str]:
    """Headers that make the server see the request as coming from `address` (it trusts
    X-Forwarded-For from 127.0.0.1, like a TLS proxy in front of it)."""
    return {"X-Forwarded-For": address}


async def login_cookie(server: Server, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
    return await server.login(email, password)


def console(server: Server, cookie: str, **headers: str) -> httpx.AsyncClient:
    """A console browser tab: our cookie, our own origin (as the console's fetches send it)."""
    client = httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base, **headers}, timeout=30)
    client.cookies.set("rapport_session", cookie)
    return client


async def api_key(server: Server, scopes: Iterable[str] = ("*",), name: str = "shop") -> str:
    """A shop API key, made by the admin through the API (works for in-process and child servers)."""
    async with console(server, await login_cookie(server)) as http:
        made = await http.post("/api/v1/api-keys", json={"name": name, "scopes": list(scopes)})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])


def shop_client(server: Server, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def count_rows(database: str | Path, sql: str, params: tuple[Any, ...] = ()) -> int:
    """A count read straight from the store's file (to check that NOTHING was stored)."""
    with sqlite3.connect(str(database), timeout=10) as db:
        return int(db.execute(sql, params).fetchone()[0])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


class Watch:
    """A thread (not the test's event loop, which is busy attacking) polling /healthz and the
    server process's RSS the whole time; latencies in seconds, RSS in KiB."""

    def __init__(self, base: str, pid: int | None = None, interval: float = 0.02) -> None:
        self.base = base
        self.pid = pid
        self.interval = interval
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.rss: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        # A first poll before the attack opens the connection (its setup is not the server's
        # latency) and shows the server answering; the measure starts after it.
        self._wait_for_polls(1)
        self.latencies.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        # One more poll begun after the attack, so a server still busy with it is seen.
        self._wait_for_polls(len(self.latencies) + 2)
        self._stop.set()
        self._thread.join(10)

    def _wait_for_polls(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.latencies) < count and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.005)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=5) as http:
            while not self._stop.is_set():
                began = time.perf_counter()
                try:
                    r = http.get("/healthz")
                    if r.status_code != 200:
                        self.failures.append(f"/healthz {r.status_code}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"/healthz {exc!r}")
                self.latencies.append(time.perf_counter() - began)
                if self.pid is not None:
                    with contextlib.suppress(OSError, AssertionError):  # the process just ended
                        self.rss.append(rss_kib(self.pid))
                self._stop.wait(self.interval)

    def summary(self) -> str:
        if not self.latencies:
            return "no samples"
        ms = sorted(x * 1000 for x in self.latencies)
        return (f"{len(ms)} polls, median {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms;"
                f" RSS {min(self.rss, default=0)}..{max(self.rss, default=0)} KiB")


async def answer(client: WsClient, **frame: Any) -> dict[str, Any]:
    """Send a frame with a client_id and wait for its ack or error (events carry the id too)."""
    frame.setdefault("client_id", uuid.uuid4().hex)
    await client.send(**frame)
    return await client.wait_for(
        lambda f: f.get("client_id") == frame["client_id"] and f["type"] in ("ack", "error")
    )


async def widget(server: Server, address: str | None = None, **hello: Any) -> WsClient:
    """A shopper's widget socket, seen from `address` (X-Forwarded-For), after its hello (whose
    answer, welcome or error, is `client.welcome`)."""
    headers = from_address(address) if address else {}
    ws = await connect(f"{server.ws}/ws/widget", additional_headers=headers, compression=None, open_timeout=5)
    client = WsClient(ws)
    try:
        await client.hello(**hello)
    except ConnectionClosed:
        # Refused before or right after the hello: the frames that came are in client.frames.
        client.welcome = next((f for f in client.frames if f["type"] == "error"), {"type": "closed"})
    return client


async def close_code(client: WsClient, timeout: float = 3.0) -> int | None:
    """The code the server closed the socket with (1006: dropped without a close frame); None if
    it was still open after `timeout`."""
    try:
        code = await client.closed_with(timeout=timeout)
    except TimeoutError:
        return None
    return 1006 if code is None else code
