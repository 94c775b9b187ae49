"""Fixtures: a real uvicorn server per test on an ephemeral port, real clients, real Redis."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.settings import Settings
from tests.support.live import LiveServer, ProcessServer, test_settings

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session", autouse=True)
def no_server_outlives_the_session() -> Iterator[None]:
    yield
    for proc in ProcessServer.started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path)


@pytest.fixture
async def server(settings: Settings, caplog: pytest.LogCaptureFixture) -> AsyncIterator[LiveServer]:
    live = await LiveServer(settings).start()
    try:
        yield live
    finally:
        await live.stop()
    # As for server processes (ProcessServer.stop): an ERROR logged is a defect no assertion saw.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[:20]
