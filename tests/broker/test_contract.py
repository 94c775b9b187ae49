"""One contract for every broker backend: the in-process one and Redis (a real redis-server).

A publish reaches subscribers in other processes: each test publishes on one broker and
listens on another. With Redis those are two RedisBroker instances, like two server processes,
so what they assert crossed Redis (a broker hands its own publishes to its own subscribers
without the network and drops Redis's echo of them, so one instance alone would prove nothing
about Redis). The in-process broker has no bus beyond itself: both roles are the one instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NamedTuple

import pytest

from server.broker import Broker, MemoryBroker
from server.broker.redis import RedisBroker
from tests.support.redis_server import RedisServer


class Recorder:
    def __init__(self, broker: Broker) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.reconnects = 0
        self.arrived = asyncio.Event()
        broker.set_handlers(self.on_message, self.on_reconnect)

    def on_message(self, channel: str, data: bytes) -> None:
        self.got.append((channel, data))
        self.arrived.set()

    async def on_reconnect(self) -> None:
        self.reconnects += 1

    async def wait(self, count: int, timeout: float = 5.0) -> None:
        async def enough() -> None:
            while len(self.got) < count:
                self.arrived.clear()
                await self.arrived.wait()

        try:
            await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(f"{len(self.got)} of {count} messages within {timeout}s: {self.got[-5:]}") from None


async def eventually(check: Callable[[], object | Awaitable[object]], what: str, timeout: float = 10.0) -> None:
    """Wait until `check()` is true; fail, saying `what` did not happen, when it times out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        await asyncio.sleep(0.02)


class Pair(NamedTuple):
    """Where a test publishes, and where it listens."""

    publisher: Broker
    subscriber: Broker


@pytest.fixture(params=["memory", "redis"])
async def brokers(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    if request.param == "memory":
        one = MemoryBroker()
        await one.connect()
        yield Pair(one, one)
        await one.close()
        return
    redis_server: RedisServer = request.getfixturevalue("redis_server")
    publisher, subscriber = RedisBroker(redis_server.url), RedisBroker(redis_server.url)
    await publisher.connect()
    await subscriber.connect()
    try:
        yield Pair(publisher, subscriber)
    finally:
        await publisher.close()
        await subscriber.close()


async def _subscribed(broker: Broker, channel: str) -> None:
    await broker.subscribe(channel)
    if isinstance(broker, RedisBroker):
        # SUBSCRIBE is asynchronous on the server side; wait until Redis counts us.
        async def counted() -> bool:
            return bool(await broker._client.pubsub_numsub(channel) == [(channel.encode(), 1)])

        await eventually(counted, f"Redis counting one subscriber of {channel!r}", timeout=2.0)


async def test_delivers_exactly_the_published_bytes_once(brokers: Pair) -> None:
    rec = Recorder(brokers.subscriber)
    await _subscribed(brokers.subscriber, "a")
    await brokers.publisher.publish("a", b"\x00hello\xff")
    await brokers.publisher.publish("b", b"not subscribed")
    await rec.wait(1)
    await asyncio.sleep(0.1)
    assert rec.got == [("a", b"\x00hello\xff")]


async def test_keeps_order_and_stops_after_unsubscribe(brokers: Pair) -> None:
    rec = Recorder(brokers.subscriber)
    await _subscribed(brokers.subscriber, "ch")
    await brokers.publisher.publish_many([("ch", str(i).encode()) for i in range(1000)])
    await rec.wait(1000)
    assert [int(d) for _, d in rec.got] == list(range(1000))
    await brokers.subscriber.unsubscribe("ch")
    await brokers.publisher.publish("ch", b"late")
    await asyncio.sleep(0.2)
    assert len(rec.got) == 1000


async def test_two_redis_brokers_share_fan_out_with_one_subscription_each(redis_server: RedisServer) -> None:
    a, b = RedisBroker(redis_server.url), RedisBroker(redis_server.url)
    rec_a, rec_b = Recorder(a), Recorder(b)
    await a.connect()
    await b.connect()
    try:
        for ch in ("x", "y", "z"):
            await _subscribed(a, ch)
        for ch in ("x", "y"):
            await b.subscribe(ch)
        client = redis_server.client()
        await eventually(lambda: dict(client.pubsub_numsub("x", "y", "z")) == {b"x": 2, b"y": 2, b"z": 1},
                         "Redis counting both brokers' subscriptions")
        # One pub/sub connection per process, whatever the number of channels.
        kinds = [c for c in client.client_list() if c.get("sub") not in (None, "0")]
        assert len(kinds) == 2
        await a.publish("x", b"from a")
        await rec_a.wait(1)
        await rec_b.wait(1)
        await asyncio.sleep(0.1)  # Redis's echo of it back to `a` would come by now
        assert rec_a.got == rec_b.got == [("x", b"from a")]
    finally:
        await a.close()
        await b.close()


async def test_survives_redis_being_killed_and_restarted(redis_server: RedisServer) -> None:
    broker = RedisBroker(redis_server.url)
    other = RedisBroker(redis_server.url)  # another process, publishing through Redis
    rec = Recorder(broker)
    await broker.connect()
    await other.connect()
    try:
        await _subscribed(broker, "ch")
        assert await broker.ping() is True
        redis_server.kill()
        # Publishing while Redis is away neither raises nor hangs, and this process's own
        # subscribers still get it (they never depend on the network).
        started = asyncio.get_running_loop().time()
        await broker.publish("ch", b"while down")
        await broker.publish_many([("ch", b"while down too")])
        assert asyncio.get_running_loop().time() - started < 3
        assert await broker.ping() is False
        await broker.subscribe("later")  # while down: subscribed once Redis is back
        redis_server.start()
        await eventually(lambda: rec.reconnects, "the subscriber's reconnect")
        assert rec.reconnects == 1
        client = redis_server.client()
        await eventually(lambda: dict(client.pubsub_numsub("ch", "later")) == {b"ch": 1, b"later": 1},
                         "resubscribing both channels after the restart")
        # From the other process, whose pooled connection died with Redis: it crosses Redis.
        await other.publish("later", b"after")
        await other.publish("ch", b"again")
        await rec.wait(4)
        assert rec.got == [("ch", b"while down"), ("ch", b"while down too"), ("later", b"after"), ("ch", b"again")]
        assert await broker.ping() is True
    finally:
        await broker.close()
        await other.close()


async def test_redis_down_at_start_is_not_fatal(redis_server: RedisServer) -> None:
    redis_server.kill()
    broker = RedisBroker(redis_server.url)
    other = RedisBroker(redis_server.url)  # another process, also started while Redis is down
    rec = Recorder(broker)
    await broker.connect()
    await other.connect()
    try:
        await broker.subscribe("ch")
        await asyncio.sleep(0.2)
        redis_server.start()
        await eventually(lambda: rec.reconnects, "the subscriber's connection once Redis is up")
        client = redis_server.client()
        await eventually(lambda: dict(client.pubsub_numsub("ch")) == {b"ch": 1}, "subscribing once Redis is up")
        await other.publish("ch", b"hi")
        await rec.wait(1)
        assert rec.got == [("ch", b"hi")]
    finally:
        await broker.close()
        await other.close()
