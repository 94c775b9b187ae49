"""Fixtures: a real uvicorn server per test on an ephemeral port, real clients, real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.settings import Settings
from tests.support.live import LiveServer, test_settings

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    live = await LiveServer(settings).start()
    try:
        yield live
    finally:
        await live.stop()
