"""Point 5: unauthenticated memory use. A 150 MB body streamed to the public login route (and three
at once) is refused while it streams in: the server's memory barely moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.security.conftest import Watch, rss_kib
from tests.support.live import ProcessServer, test_settings

SIZE = 150 * 1024 * 1024
CHUNK = b"x" * (64 * 1024)
MAX_GROWTH_KIB = 30 * 1024


class Upload:
    """A body produced as it is sent (never held in the test's memory); counts what went out."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.size:
            self.sent += len(CHUNK)
            yield CHUNK


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    server = ProcessServer(test_settings(tmp_path_factory.mktemp("bodies"))).start()
    try:
        yield server
    finally:
        server.stop()


async def send(server: ProcessServer, *, declare_length: bool) -> str:
    """What became of one 150 MB login request: its status, or how the connection ended."""
    headers = {"Content-Type": "application/json"}
    if declare_length:
        headers["Content-Length"] = str(SIZE)
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
        try:
            r = await http.post("/api/v1/session", content=Upload(), headers=headers)
        except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
            return f"closed early ({type(exc).__name__})"
        return str(r.status_code)


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "content-length"])
@pytest.mark.parametrize("at_once", [1, 3])
async def test_a_150_mb_login_body_is_refused_with_memory_bounded(
    process: ProcessServer, declare_length: bool, at_once: int
) -> None:
    assert process.proc is not None
    pid = process.proc.pid
    before = rss_kib(pid)
    with Watch(process.base, pid, interval=0.01) as watch:
        outcomes = await asyncio.gather(*(send(process, declare_length=declare_length) for _ in range(at_once)))
        await asyncio.sleep(0.2)
    assert all(o == "413" or o.startswith("closed early") for o in outcomes), outcomes
    grown = max(watch.rss, default=before) - before
    assert grown < MAX_GROWTH_KIB, f"RSS grew by {grown // 1024} MB ({outcomes}): {watch.summary()}"
    assert not watch.failures, watch.failures[:3]
    async with httpx.AsyncClient(base_url=process.base) as http:
        assert (await http.get("/healthz")).status_code == 200
