"""Real servers for tests: uvicorn in this process on an ephemeral port, or a separate process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx
import uvicorn

from server.app import create_app
from server.auth.accounts import NewAccount
from server.cli import uvicorn_config_kwargs
from server.node import Node
from server.settings import Settings
from tests.support.client import WsClient
from tests.support.redis_server import PORT_ATTEMPTS, free_port, listens_on

ROOT = Path(__file__).resolve().parents[2]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "console-pass-1"
AGENT_PASSWORD = "staff-pass-22"


def test_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Cheap password hashing and short timers, a private SQLite file."""
    values: dict[str, Any] = {
        "database_path": str(tmp_path / "rapport.db"),
        # The file outbox's default is relative to the working directory: the checkout.
        "mail_outbox": str(tmp_path / "mail-outbox"),
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "secret_key": "test-secret-key",
        "shop_secret": "test-shop-secret-0123456789abcdef",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        "hello_timeout": 3.0,
        "presence_heartbeat": 1.0,
        "position_check_interval": 1.0,
        "log_level": "warning",
        # Every simulated shopper connects from 127.0.0.1; tests/security sets the real limits.
        "visitor_connects_per_minute": 100_000,
    }
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a factory, not a test


class Server:
    """What tests need of any running server: URLs and agent logins."""

    base: str

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://")

    async def login(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
        async with httpx.AsyncClient(base_url=self.base) as http:
            r = await http.post("/api/v1/session", json={"email": email, "password": password})
            r.raise_for_status()
            cookie = r.cookies.get("rapport_session")
            assert cookie
            return cookie

    async def agent(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, **hello: Any) -> WsClient:
        cookie = await self.login(email, password)
        client = await WsClient.connect(f"{self.ws}/ws/agent", cookie=cookie)
        await client.hello(**hello)
        return client

    async def customer(self, **hello: Any) -> WsClient:
        client = await WsClient.connect(f"{self.ws}/ws/widget")
        await client.hello(**hello)
        return client


class LiveServer(Server):
    """uvicorn serving create_app(settings) in the test's event loop; node is reachable."""

    # How many have been started in this session: a test that started one has every ERROR it
    # logged checked (conftest.py), whether it used a fixture or called LiveServer itself.
    starts: ClassVar[int] = 0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.node: Node = self.app.state.node
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> LiveServer:
        # log_config=None: uvicorn's own loggers propagate to the root logger, so what uvicorn
        # logs (an exception escaping the app) reaches pytest's capture and the ERROR check;
        # its default config would print it to stderr only, where no test looks.
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", log_config=None,
            **uvicorn_config_kwargs(self.settings),  # type: ignore[arg-type]
        )
        # A server started with uvicorn's default config in this process (another test) turned
        # propagation off for good; turn it back on.
        for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
            logging.getLogger(name).propagate = True
        LiveServer.starts += 1
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                break
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 15)

    async def add_agent(self, email: str, name: str, role: str = "agent", max_concurrent: int = 5) -> str:
        new = NewAccount(email=email, name=name, password=AGENT_PASSWORD, role=role,  # type: ignore[arg-type]
                         max_concurrent=max_concurrent)
        return (await self.node.accounts.create(new)).id

    async def event_count(self) -> int:
        row = await self.node.db.fetchone("SELECT COUNT(*) AS n FROM events")
        assert row is not None
        return int(row["n"])


def _is_error(line: str) -> bool:
    if "Traceback" in line:
        return True
    if line.startswith("{"):
        try:
            return json.loads(line).get("level") in ("ERROR", "CRITICAL")
        except ValueError:
            pass
    return " ERROR " in line or " CRITICAL " in line


class PortTaken(Exception):
    """Another process holds the port picked for a server."""


class ProcessServer(Server):
    """`python -m server serve` in a child process, on a fixed port so it can be restarted.

    The port is picked free, but another process may take it before the child binds it: then
    the child exits ("address already in use"), or whoever holds it answers /readyz in its
    place. Ready means the child itself listens on the port (its socket, by /proc); on a
    collision at the first start another port is picked (a requested port, or a restart, keeps
    its port: clients hold the URL)."""

    # Every child started, so none outlives the test session when a test fails half-way.
    started: ClassVar[list[subprocess.Popen[bytes]]] = []

    def __init__(self, settings: Settings, port: int | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.fixed_port = port is not None
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._use_port(port or free_port())

    def _use_port(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(self.settings.database_path).with_suffix(f".{self.port}.log")

    def env(self) -> dict[str, str]:
        from server.settings import DOCS

        env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_") and k not in ("REDIS_URL",)}
        for name, (var, _doc) in DOCS.items():
            value = getattr(self.settings, name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = ",".join(value)
            env[var] = str(value).lower() if isinstance(value, bool) else str(value)
        env.update(self.extra_env)
        return env

    def start(self) -> ProcessServer:
        may_move = not self.fixed_port and self.proc is None
        for attempt in range(PORT_ATTEMPTS if may_move else 1):
            try:
                return self._start_once()
            except PortTaken:
                if not may_move or attempt == PORT_ATTEMPTS - 1:
                    raise
                self._use_port(free_port())
        raise AssertionError("unreachable")

    def _start_once(self) -> ProcessServer:
        start_of_log = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            proc = self.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            )
        ProcessServer.started.append(proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                with self.log_path.open("rb") as log:
                    log.seek(start_of_log)
                    said = log.read().decode(errors="replace")
                if "address already in use" in said.lower():
                    raise PortTaken(f"port {self.port}: {said[-500:]}")
                raise RuntimeError(f"server exited: {said[-2000:]}")
            try:
                ready = httpx.get(f"{self.base}/readyz", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                ready = False
            # Whoever answered must be our child: another process holding the port would
            # answer too (our child then fails to bind and exits, above).
            if ready and listens_on(proc.pid, self.port) is not False:
                return self
            time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def errors(self) -> list[str]:
        """Lines the server logged at ERROR or above, and tracebacks: a healthy run has none.
        Lines are JSON (the default RAPPORT_LOG_FORMAT) or text."""
        if not self.log_path.exists():
            return []
        return [line for line in self.log_path.read_text().splitlines() if _is_error(line)]

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20) -> float:
        """SIGTERM; returns the seconds the process took to exit."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.monotonic() - began

    def stop(self) -> None:
        """SIGTERM, then check the log: anything logged at ERROR is a defect the test's own
        assertions did not see (a frame misread, a background task that failed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        errors = self.errors()
        assert not errors, "the server logged errors:\n" + "\n".join(errors[:20])
