"""The server as a process: killed and restarted mid-chat, stopped with SIGTERM, its command line."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import ROOT, ProcessServer, test_settings


@pytest.fixture
def process_server(settings: Settings) -> Iterator[ProcessServer]:
    server = ProcessServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


class Side:
    """One chat participant that survives server restarts: cursor, pending resends, transcript."""

    def __init__(self, server: ProcessServer, role: str) -> None:
        self.server = server
        self.role = role
        self.client: WsClient | None = None
        self.seen: dict[int, dict[str, object]] = {}
        # How many times each seq arrived: `seen` keeps one frame per seq, so on its own it
        # could not tell a frame delivered twice (say, replayed after the restart) from once.
        self.deliveries: Counter[int] = Counter()
        self.pending: dict[str, str] = {}
        self.token: str | None = None
        self.conv: str | None = None

    async def connect(self) -> None:
        resume = {self.conv: max(self.seen, default=0)} if self.conv else {}
        if self.role == "agent":
            self.client = await self.server.agent(resume=resume)
        else:
            hello = {"resume": resume}
            if self.token:
                hello["visitor_token"] = self.token
            self.client = await self.server.customer(**hello)
            self.token = self.token or self.client.welcome["visitor_token"]
        for client_id, text in self.pending.items():
            await self._send(client_id, text)

    async def _send(self, client_id: str, text: str) -> None:
        assert self.client is not None
        frame = {"type": "message.send", "client_id": client_id, "text": text}
        if self.conv:
            frame["conversation_id"] = self.conv
        await self.client.send(**frame)

    async def say(self, client_id: str, text: str) -> None:
        self.pending[client_id] = text
        with contextlib.suppress(ConnectionClosed):  # resent after the reconnect, same client_id
            await self._send(client_id, text)

    async def pump(self, seconds: float) -> None:
        """Read frames for a while; apply events by seq and acks to the pending list."""
        assert self.client is not None
        try:
            for frame in await self.client.quiet(seconds):
                if frame["type"] == "event":
                    self.seen[frame["seq"]] = frame
                    self.deliveries[frame["seq"]] += 1
                    self.conv = self.conv or str(frame["conversation_id"])
                elif frame["type"] == "ack":
                    self.pending.pop(frame["client_id"], None)
                    self.conv = self.conv or frame["conversation_id"]
        except ConnectionClosed:
            pass

    def texts(self) -> list[str]:
        return [str(e["text"]) for _, e in sorted(self.seen.items()) if e["kind"] == "message"]


async def test_killed_and_restarted_mid_conversation_loses_and_doubles_nothing(
    process_server: ProcessServer,
) -> None:
    shopper, agent = Side(process_server, "customer"), Side(process_server, "agent")
    await agent.connect()
    await shopper.connect()
    await shopper.say("s0", "shopper 0")
    await shopper.pump(0.5)
    await agent.pump(0.5)
    assert shopper.conv and agent.conv == shopper.conv

    for i in range(1, 20):
        await shopper.say(f"s{i}", f"shopper {i}")
        await agent.say(f"a{i}", f"agent {i}")
        if i == 10:
            process_server.kill()  # SIGKILL: no shutdown, no goodbye
            process_server.start()
            await asyncio.sleep(0.2)
            await shopper.connect()
            await agent.connect()
        await shopper.pump(0.05)
        await agent.pump(0.05)
    for _ in range(20):
        await shopper.pump(0.2)
        await agent.pump(0.2)
        if not shopper.pending and not agent.pending and len(shopper.seen) == len(agent.seen):
            break

    expected_shopper = [f"shopper {i}" for i in range(20)]
    expected_agent = [f"agent {i}" for i in range(1, 20)]
    for side in (shopper, agent):
        assert not side.pending, f"{side.role} still waits for acks: {side.pending}"
        texts = side.texts()
        assert [t for t in texts if t.startswith("shopper")] == expected_shopper
        assert [t for t in texts if t.startswith("agent")] == expected_agent
        assert sorted(side.seen) == list(range(1, max(side.seen) + 1)), "every seq exactly once, no hole"
        doubled = {seq: n for seq, n in side.deliveries.items() if n != 1}
        assert not doubled, f"{side.role} got these seqs more than once: {doubled}"
        assert sorted(side.deliveries) == sorted(side.seen)
    # The store agrees: each message exactly once.
    with sqlite3.connect(process_server.settings.database_path) as db:
        rows = db.execute("SELECT text FROM events WHERE kind = 'message' ORDER BY seq").fetchall()
    assert sorted(r[0] for r in rows) == sorted(expected_shopper + expected_agent)


async def test_sigterm_closes_sockets_and_exits_in_bounded_time(process_server: ProcessServer) -> None:
    agent = await process_server.agent()
    shoppers = [await process_server.customer() for _ in range(5)]
    took = await asyncio.to_thread(process_server.terminate, 20)
    assert took < 12, f"graceful shutdown took {took:.1f}s"
    codes = {await c.closed_with(timeout=2) for c in [agent, *shoppers]}
    assert codes <= {1012, 1001}, codes  # "service restart" / "going away": both mean reconnect


def test_migrate_and_agent_add_commands(tmp_path: Path) -> None:
    settings = test_settings(tmp_path)
    env = ProcessServer(settings).env()
    run = [sys.executable, "-m", "server"]
    out = subprocess.run([*run, "migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "applied 0001_chat.sql" in out.stdout
    again = subprocess.run([*run, "migrate"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "applied" not in again.stdout
    with sqlite3.connect(settings.database_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
    env["RAPPORT_AGENT_PASSWORD"] = "long-enough-1"
    add = subprocess.run([*run, "agent", "add", "--email", "cli@shop.test", "--name", "Cli", "--role", "marketer"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert add.returncode == 0, add.stderr
    dup = subprocess.run([*run, "agent", "add", "--email", "cli@shop.test", "--name", "Cli"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    server = ProcessServer(settings).start()
    try:
        r = httpx.post(f"{server.base}/api/v1/session", json={"email": "cli@shop.test", "password": "long-enough-1"})
        assert r.status_code == 200 and r.json()["agent"]["role"] == "marketer"
    finally:
        server.stop()


def test_first_start_prints_a_generated_admin_password(tmp_path: Path) -> None:
    import msgspec

    settings = msgspec.structs.replace(test_settings(tmp_path), admin_password=None)
    server = ProcessServer(settings).start()
    try:
        log = server.log_path.read_text()
        line = next(line for line in log.splitlines() if "first admin" in line)
        password = line.rsplit(" ", 1)[-1]
        r = httpx.post(f"{server.base}/api/v1/session", json={"email": settings.admin_email, "password": password})
        assert r.status_code == 200
    finally:
        server.stop()
    # Printed once: a second start does not create or print another.
    server = ProcessServer(settings, port=server.port).start()
    server.stop()
    assert server.log_path.read_text().count("first admin") == 1
