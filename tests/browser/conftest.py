"""Real headless Chromium (Debian's, driven by Playwright) against a real server process."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.support.live import ProcessServer, test_settings

# What the page must come to show, it has 10 s to show (Playwright's default is 5): the suite runs
# on two workers on two cores, and a busy box is slow, not wrong. The assertions are unchanged.
expect.set_options(timeout=10_000)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Each browser test's screenshots (git-ignored): look at them before calling a screen done.
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


def chromium_path() -> str:
    found = shutil.which("chromium")
    if not found:  # the test command installs it; a test never skips for want of it
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True)
        found = shutil.which("chromium")
    assert found, "chromium could not be installed"
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def shop_server(tmp_path: Path) -> Iterator[ProcessServer]:
    settings = msgspec.structs.replace(test_settings(tmp_path), auto_assign=False)
    server = ProcessServer(settings).start()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield server
    finally:
        server.stop()
