"""Fixtures: a real uvicorn server per test on an ephemeral port, real clients, real Redis."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from server.settings import Settings
from tests.support.live import LiveServer, ProcessServer, test_settings

pytest_plugins = ["tests.support.fixtures"]

StartLiveServer = Callable[[Settings], Awaitable[LiveServer]]


@pytest.fixture(scope="session", autouse=True)
def no_server_outlives_the_session() -> Iterator[None]:
    yield
    for proc in ProcessServer.started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def logged_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every record at ERROR or above of the whole test: its setup, its body and its teardown so
    far. (`caplog.records` holds only the current phase: read at teardown, it missed the body.)"""
    return [
        f"{record.name}: {record.getMessage()}"
        for when in ("setup", "call", "teardown")
        for record in caplog.get_records(when)  # type: ignore[arg-type]  # a Literal
        if record.levelno >= logging.ERROR
    ]


@pytest.fixture(autouse=True)
def no_error_logged_by_a_live_server(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """As for server processes (ProcessServer.stop): an ERROR logged is a defect no assertion saw.

    Autouse and set up before any other function fixture, so it is torn down after them: it sees
    what every in-process server logged, including while stopping, for tests that start one with
    the `server` fixture, with `live_server_factory`, or by calling `LiveServer(...)` themselves.
    """
    starts = LiveServer.starts
    yield
    if LiveServer.starts == starts:
        return
    errors = logged_errors(caplog)
    assert not errors, "a server logged errors:\n" + "\n".join(errors[:20])


@pytest.fixture
async def live_server_factory(no_error_logged_by_a_live_server: None) -> AsyncIterator[StartLiveServer]:
    """Starts LiveServers with given settings; stops those still running at the end, after which
    the ERROR check above runs on everything they logged."""
    started: list[LiveServer] = []

    async def start(settings: Settings) -> LiveServer:
        live = await LiveServer(settings).start()
        started.append(live)
        return live

    try:
        yield start
    finally:
        for live in reversed(started):
            await live.stop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path)


@pytest.fixture
async def server(settings: Settings, live_server_factory: StartLiveServer) -> LiveServer:
    return await live_server_factory(settings)
