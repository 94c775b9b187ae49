"""The server's Prometheus instruments, named in one place, and their exposition for one process or several.

Hot paths hold a pre-bound instrument (a module attribute, its labels already applied) and pay
one increment per frame, not a label lookup. With several workers (`rapport serve --workers N`)
prometheus-client's multi-process mode is on: each process writes its values to files in
`PROMETHEUS_MULTIPROC_DIR`, and whichever process answers a scrape adds them up. That variable
must be set before prometheus-client is imported, so `rapport serve` sets it (prepare_workers)
before it starts the workers; the supervising process itself records nothing.

Other modules set what they own: the mail sender sets MAIL_QUEUE, the chat service
WAITING_CONVERSATIONS, and so on; gauges that nothing updates on its own (backlogs) are sampled
every few seconds by a Sampler that Node runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

# prometheus-client opens its files in this directory as soon as an instrument is made (below, at
# import): it must exist by then.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

log = logging.getLogger("rapport.metrics")

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds between samples of the backlog gauges: frequent enough for a 15 s scrape.
SAMPLE_INTERVAL = 5.0

_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BROADCAST = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# In multi-process mode a gauge says how the processes' values combine: `livesum` adds those of
# the processes alive now; `mostrecent` takes the last one set, for facts every process sees alike.
CONNECTIONS = Gauge(
    "rapport_connections", "Open WebSocket connections, by kind", ["kind"], multiprocess_mode="livesum"
)
CUSTOMER_CONNECTIONS = CONNECTIONS.labels("customer")
AGENT_CONNECTIONS = CONNECTIONS.labels("agent")
FRAMES_IN = Counter("rapport_frames_received", "WebSocket frames received from clients")
FRAMES_OUT = Counter("rapport_frames_sent", "WebSocket frames sent to clients (written at once or queued)")
MESSAGES_STORED = Counter("rapport_messages_stored", "Chat messages and private notes stored (resends not counted)")
ACK_SECONDS = Histogram(
    "rapport_ack_seconds", "From a message.send frame read to its ack sent, the commit in between", buckets=_LATENCY
)
BROADCAST_DELIVERIES = Counter(
    "rapport_broadcast_deliveries",
    "Campaign notifications stored and handed to the sockets of customers connected here",
)
BROADCAST_SECONDS = Histogram(
    "rapport_broadcast_seconds",
    "From a campaign's start heard by this process to its delivery to every customer connected here",
    buckets=_BROADCAST,
)
WAITING_CONVERSATIONS = Gauge(
    "rapport_waiting_conversations", "Conversations waiting in the queue for an agent", multiprocess_mode="mostrecent"
)
SEND_QUEUE_FRAMES = Gauge(
    "rapport_send_queue_frames",
    "Frames waiting in the connections' send queues (clients reading slower than the server writes)",
    multiprocess_mode="livesum",
)
STORE_WRITE_QUEUE = Gauge(
    "rapport_store_write_queue", "Writes waiting for the store's writer thread", multiprocess_mode="livesum"
)
BROKER_RECONNECTS = Counter("rapport_broker_reconnects", "Times the connection to Redis came back after an outage")
STORE_BATCH_SIZE = Histogram(
    "rapport_store_write_batch_size",
    "Writes committed together in one transaction (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
STORE_WRITE_SECONDS = Histogram(
    "rapport_store_write_seconds", "One write transaction, BEGIN to COMMIT, on the writer thread", buckets=_LATENCY
)
# Set by the mail sender (issue 12): e-mails stored and not yet sent. The queue is the store's,
# the same for every process: the value any process set last.
MAIL_QUEUE = Gauge("rapport_mail_queue", "E-mails waiting to be sent", multiprocess_mode="mostrecent")


def observe_write_batch(writes: int, seconds: float) -> None:
    """The store's writer thread committed `writes` writes in one transaction of `seconds`."""
    STORE_BATCH_SIZE.observe(writes)
    STORE_WRITE_SECONDS.observe(seconds)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR) or None


def registry() -> CollectorRegistry:
    """What a scrape reads: this process's instruments, or every worker's files in multi-process mode."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined, path=path)  # type: ignore[no-untyped-call]
    return combined


def exposition() -> bytes:
    """The text format of every instrument (of every worker in multi-process mode)."""
    return generate_latest(registry())


def prepare_workers(workers: int) -> str | None:
    """Before workers start: multi-process mode for more than one, in an empty directory (files a
    previous run left would add its counts to this one's). Returns the directory if it made one,
    for the caller to remove when the server stops."""
    path = multiprocess_dir()
    if path is not None:
        mine = f"_{os.getpid()}.db"  # this process's own, open already (it serves with one worker)
        for stale in Path(path).glob("*.db"):
            if not stale.name.endswith(mine):
                stale.unlink()
        return None
    if workers <= 1:
        return None
    made = tempfile.mkdtemp(prefix="rapport-metrics-")
    os.environ[MULTIPROC_DIR] = made
    return made


def serve_port(host: str, port: int) -> None:
    """Serve /metrics (any path) on a port of its own, from a thread, for every worker's values."""
    start_http_server(port, addr=host, registry=registry())
    log.info("metrics on http://%s:%d/metrics", host, port)


def process_ended() -> None:
    """This process stops: its `live*` gauges stop counting (multi-process mode)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class Sampler:
    """Sets gauges that nothing updates on its own (backlogs) every SAMPLE_INTERVAL seconds."""

    def __init__(self, gauges: dict[Gauge, Callable[[], float]], interval: float = SAMPLE_INTERVAL) -> None:
        self._gauges = gauges
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.sample()
        self._task = asyncio.create_task(self._loop(), name="metrics-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    def sample(self) -> None:
        for gauge, read in self._gauges.items():
            gauge.set(read())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.sample()
            except Exception:
                log.exception("sampling metrics failed")
