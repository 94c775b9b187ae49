"""One contract for every broker backend: the in-process one and Redis (a real redis-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

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

        await asyncio.wait_for(enough(), timeout)


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest, redis_server: RedisServer) -> AsyncIterator[Broker]:
    b: Broker = MemoryBroker() if request.param == "memory" else RedisBroker(redis_server.url)
    await b.connect()
    yield b
    await b.close()


async def _subscribed(broker: Broker, channel: str) -> None:
    await broker.subscribe(channel)
    if isinstance(broker, RedisBroker):
        # SUBSCRIBE is asynchronous on the server side; wait until Redis counts us.
        for _ in range(100):
            if await broker._client.pubsub_numsub(channel) == [(channel.encode(), 1)]:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("subscription not visible in Redis")


async def test_delivers_exactly_the_published_bytes_once(broker: Broker) -> None:
    rec = Recorder(broker)
    await _subscribed(broker, "a")
    await broker.publish("a", b"\x00hello\xff")
    await broker.publish("b", b"not subscribed")
    await rec.wait(1)
    await asyncio.sleep(0.1)
    assert rec.got == [("a", b"\x00hello\xff")]


async def test_keeps_order_and_stops_after_unsubscribe(broker: Broker) -> None:
    rec = Recorder(broker)
    await _subscribed(broker, "ch")
    await broker.publish_many([("ch", str(i).encode()) for i in range(1000)])
    await rec.wait(1000)
    assert [int(d) for _, d in rec.got] == list(range(1000))
    await broker.unsubscribe("ch")
    await broker.publish("ch", b"late")
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
        for _ in range(100):
            if dict(client.pubsub_numsub("x", "y", "z")) == {b"x": 2, b"y": 2, b"z": 1}:
                break
            await asyncio.sleep(0.02)
        # One pub/sub connection per process, whatever the number of channels.
        kinds = [c for c in client.client_list() if c.get("sub") not in (None, "0")]
        assert len(kinds) == 2
        await a.publish("x", b"from a")
        await rec_a.wait(1)
        await rec_b.wait(1)
        assert rec_a.got == rec_b.got == [("x", b"from a")]
    finally:
        await a.close()
        await b.close()


async def test_survives_redis_being_killed_and_restarted(redis_server: RedisServer) -> None:
    broker = RedisBroker(redis_server.url)
    rec = Recorder(broker)
    await broker.connect()
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
        for _ in range(200):
            if rec.reconnects:
                break
            await asyncio.sleep(0.05)
        assert rec.reconnects == 1
        client = redis_server.client()
        for _ in range(100):
            if dict(client.pubsub_numsub("ch", "later")) == {b"ch": 1, b"later": 1}:
                break
            await asyncio.sleep(0.02)
        await broker.publish("later", b"after")
        await broker.publish("ch", b"again")
        await rec.wait(4)
        assert rec.got == [("ch", b"while down"), ("ch", b"while down too"), ("later", b"after"), ("ch", b"again")]
        assert await broker.ping() is True
    finally:
        await broker.close()


async def test_redis_down_at_start_is_not_fatal(redis_server: RedisServer) -> None:
    redis_server.kill()
    broker = RedisBroker(redis_server.url)
    rec = Recorder(broker)
    await broker.connect()
    try:
        await broker.subscribe("ch")
        await asyncio.sleep(0.2)
        redis_server.start()
        for _ in range(200):
            if rec.reconnects:
                break
            await asyncio.sleep(0.05)
        client = redis_server.client()
        for _ in range(100):
            if dict(client.pubsub_numsub("ch")) == {b"ch": 1}:
                break
            await asyncio.sleep(0.02)
        await broker.publish("ch", b"hi")
        await rec.wait(1)
    finally:
        await broker.close()
