"""/metrics scraped and parsed after a chat and a broadcast: the counters moved by what was done, on one
process and on two workers of one `rapport serve` (prometheus-client's multi-process mode)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import LiveServer, ProcessServer, test_settings
from tests.support.redis_server import RedisServer, _listening_inodes, _socket_inodes, free_port
from tests.support.shop import Shop, browser

TOKEN = "metrics-token-0123456789"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(base: str, token: str | None = TOKEN) -> Samples:
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"} if token else {}
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{base}/metrics", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path, metrics_token=TOKEN, frequency_cap_per_day=100)


async def chat_and_broadcast(server: LiveServer | ProcessServer, shop: Shop, customers: list[WsClient]) -> str:
    """An agent and a shopper exchange two messages; then one campaign to every connected customer."""
    agent = await server.agent()
    shopper = await server.customer()
    ack = await shopper.send_message("Do you ship to Iceland?")
    conv = ack["conversation_id"]
    await agent.wait_type("event", conversation_id=conv, kind="message", timeout=10)
    reply = await agent.send_message("We do, in five days.", conv)
    await shopper.wait_type("event", conversation_id=conv, seq=reply["seq"], timeout=10)
    await shop.campaign(title="Hi {{ customer.first_name }}")
    for customer in customers:
        await customer.wait_type("notification", timeout=10)
    return conv


async def test_metrics_move_with_a_chat_and_a_broadcast(server: LiveServer, settings: Settings) -> None:
    # Without the token: refused. (The in-process registry is shared by every test of this
    # session, so what this test did is read as differences.)
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{server.base}/metrics")).status_code == 401
        assert (await http.get(f"{server.base}/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    shop = Shop(server, token)
    try:
        for n in range(3):
            await shop.customer(f"m{n}", name=f"Cus{n}")
        customers = [await browser(server, f"m{n}") for n in range(3)]
        before = await scrape(server.base)
        await chat_and_broadcast(server, shop, customers)
        await asyncio.sleep(0.2)
        after = await scrape(server.base)
    finally:
        await shop.close()

    assert moved(before, after, "rapport_messages_stored_total") == 2
    assert moved(before, after, "rapport_ack_seconds_count") == 2
    assert 0 < moved(before, after, "rapport_ack_seconds_sum") < 5
    assert moved(before, after, "rapport_broadcast_deliveries_total") == 3
    assert moved(before, after, "rapport_broadcast_seconds_count") == 1
    # Frames in: two hellos and two messages at least; out: welcomes, acks, events, notifications.
    assert moved(before, after, "rapport_frames_received_total") >= 4
    assert moved(before, after, "rapport_frames_sent_total") >= 2 + 2 + 4 + 3
    assert moved(before, after, "rapport_connections", kind="agent") == 1
    assert moved(before, after, "rapport_connections", kind="customer") == 1
    assert value(after, "rapport_connections", kind="customer") >= 4
    assert moved(before, after, "rapport_store_write_batch_size_count") >= 4
    assert moved(before, after, "rapport_store_write_seconds_count") == moved(
        before, after, "rapport_store_write_batch_size_count"
    )
    # The conversation was assigned at once to the online agent: nobody waits.
    assert value(after, "rapport_waiting_conversations") == 0
    for name in ("rapport_broker_reconnects_total", "rapport_send_queue_frames", "rapport_store_write_queue",
                 "rapport_mail_queue"):
        assert any(key[0] == name for key in after), name


async def test_metrics_are_not_served_on_the_main_port_without_a_token(tmp_path: Path,
                                                                       live_server_factory: object) -> None:
    live = await live_server_factory(test_settings(tmp_path))  # type: ignore[operator]
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{live.base}/metrics")).status_code == 404


def worker_pids(server: ProcessServer) -> list[int]:
    """uvicorn's workers: the children holding the listening socket (not multiprocessing's helpers)."""
    assert server.proc is not None
    pid = server.proc.pid
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if _socket_inodes(c) & _listening_inodes(server.port)]


def established(pid: int, port: int) -> int:
    """Connections to `port` that process `pid` holds (its accepted sockets), from /proc."""
    mine = _socket_inodes(pid) - _listening_inodes(port)
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in mine:
                count += 1
    return count


@pytest.fixture
async def two_workers(settings: Settings, redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[ProcessServer]:
    tuned = msgspec.structs.replace(settings, redis_url=redis_server.url)
    server = ProcessServer(tuned, extra_env={"WEB_CONCURRENCY": "2",
                                             "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")})
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_metrics_add_up_every_worker(two_workers: ProcessServer) -> None:
    server = two_workers
    pids = worker_pids(server)
    assert len(pids) == 2
    cookie = await server.login()
    async with httpx.AsyncClient(base_url=server.base, cookies={"rapport_session": cookie}) as http:
        made = await http.post("/api/v1/api-keys", json={"name": "shop", "scopes": ["*"]})
        assert made.status_code == 201, made.text
    shop = Shop(server, made.json()["token"])
    customers: list[WsClient] = []
    try:
        # Customers connect until each worker holds some of them (the kernel hands each new
        # connection to either): only then can a sum of one worker's figures be told from both.
        for n in range(60):
            await shop.customer(f"w{n}", name=f"Wor{n}")
            customers.append(await browser(server, f"w{n}"))
            if n >= 3 and all(established(pid, server.port) for pid in pids):
                break
        assert all(established(pid, server.port) for pid in pids), "every connection went to one worker"
        before = await scrape(server.base)
        await chat_and_broadcast(server, shop, customers)
        await asyncio.sleep(0.5)
        scrapes = [await scrape(server.base) for _ in range(4)]  # whichever worker answers, the same sums
    finally:
        await shop.close()
        for customer in customers:
            with contextlib.suppress(Exception):
                await customer.close()

    after = scrapes[-1]
    assert value(before, "rapport_connections", kind="customer") == len(customers)
    assert value(after, "rapport_connections", kind="customer") == len(customers) + 1
    assert value(after, "rapport_connections", kind="agent") == 1
    assert moved(before, after, "rapport_messages_stored_total") == 2
    assert moved(before, after, "rapport_ack_seconds_count") == 2
    # Each worker delivers the broadcast to its own customers: together, to every one once.
    assert moved(before, after, "rapport_broadcast_deliveries_total") == len(customers)
    assert moved(before, after, "rapport_broadcast_seconds_count") == 2  # one per worker
    for other in scrapes[:-1]:
        for name in ("rapport_messages_stored_total", "rapport_broadcast_deliveries_total",
                     "rapport_frames_received_total"):
            assert value(other, name) == value(after, name), name


async def test_metrics_on_a_port_of_their_own(settings: Settings) -> None:
    metrics_port = free_port()
    server = ProcessServer(msgspec.structs.replace(settings, metrics_token=None, metrics_port=metrics_port))
    await asyncio.to_thread(server.start)
    try:
        shopper = await server.customer()
        await shopper.send_message("Hello from the other port")
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.base}/metrics")).status_code == 404  # not on the main port
        samples = await scrape(f"http://127.0.0.1:{metrics_port}", token=None)
        assert value(samples, "rapport_messages_stored_total") == 1
        assert value(samples, "rapport_connections", kind="customer") == 1
        await shopper.close()
    finally:
        await asyncio.to_thread(server.stop)
