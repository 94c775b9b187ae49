"""Redis pub/sub broker: one subscription connection per process, resubscribed after any outage."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError, RedisError, TimeoutError as RedisTimeoutError

from server import metrics
from server.broker.base import Broker

log = logging.getLogger("rapport.broker")

# A hung Redis must not stall a chat send for long: the store already holds the message.
_SOCKET_TIMEOUT = 1.0
_BACKOFF_FIRST, _BACKOFF_CAP = 0.05, 2.0
_PUBLISH_RETRIES = 2
_TAG_LEN = 13  # 12 hex characters of the publishing process's tag, and "|"


class RedisBroker(Broker):
    """Fan-out through Redis PUBLISH/SUBSCRIBE.

    Redis pub/sub is at-most-once: while this process is disconnected, or if it falls behind
    (Redis drops a subscriber past its output-buffer limit), messages are lost. After every
    reconnect the broker resubscribes, then calls `on_reconnect` so the hub compares its streams
    with the store and delivers whatever was missed.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._channels: set[str] = set()
        # Publishes retry (a pooled connection is stale after a Redis restart: the first use
        # fails, a fresh one works); without that, a hint sent just after a restart is lost.
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=_SOCKET_TIMEOUT,
            socket_connect_timeout=_SOCKET_TIMEOUT,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), _PUBLISH_RETRIES),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        # The subscription never retries behind our back: a reconnect must run `on_reconnect`,
        # or what was published during the gap would never be caught up.
        self._sub_client = aioredis.Redis.from_url(
            url, socket_timeout=_SOCKET_TIMEOUT, socket_connect_timeout=_SOCKET_TIMEOUT
        )
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()  # set while there is at least one channel to listen to
        self._connected = False
        self._last_publish_warning = 0.0
        # What this process publishes carries its tag, so Redis's echo of it can be dropped.
        self._origin = secrets.token_hex(6).encode() + b"|"
        self._outbox: list[tuple[str, bytes]] = []
        self._outbox_sent: asyncio.Future[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        # Subscription changes waiting for the next batch (see _batch).
        self._pending_sub: set[str] = set()
        self._pending_unsub: set[str] = set()
        self._batch_sent: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self._reader = asyncio.create_task(self._read_loop(), name="redis-broker-reader")

    async def close(self) -> None:
        if self._publisher is not None:  # let what is queued go out
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, RedisError, OSError, RuntimeError):
                await asyncio.wait_for(asyncio.shield(self._publisher), _SOCKET_TIMEOUT)
            self._publisher.cancel()
        if self._flusher is not None:
            # Unsubscribing is pointless now: closing the connection drops every subscription.
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError, RuntimeError):
                await self._flusher
        if self._batch_sent is not None and not self._batch_sent.done():
            self._batch_sent.set_result(None)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._drop_pubsub()
        # Shutting down: a connection Redis or the loop already closed is no reason to fail.
        for client in (self._client, self._sub_client):
            with contextlib.suppress(RedisError, OSError, RuntimeError):
                await client.aclose()

    # -------------------------------------------------------------- publishing

    async def publish(self, channel: str, data: bytes) -> None:
        await self.publish_many([(channel, data)])

    async def publish_many(self, messages: list[tuple[str, bytes]]) -> None:
        """This process's subscribers get the messages at once, without the network; the other
        processes through Redis, the publishes of one loop tick in one pipeline (one round trip
        for a hundred concurrent chat sends, or for a campaign's thousands of hints). Returns
        once they are sent. Redis echoes them back to this process too: the echo carries this
        process's tag and is dropped on arrival.
        """
        if not messages:
            return
        for channel, data in messages:
            if channel in self._channels:
                self._dispatch(channel, data)
        self._outbox.extend((channel, self._origin + data) for channel, data in messages)
        if self._outbox_sent is None:
            self._outbox_sent = asyncio.get_running_loop().create_future()
        sent = self._outbox_sent
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.create_task(self._flush_outbox(), name="redis-broker-publisher")
        await asyncio.shield(sent)

    async def _flush_outbox(self) -> None:
        while self._outbox:
            await asyncio.sleep(0)  # let the rest of this tick join the pipeline
            batch, self._outbox = self._outbox, []
            sent, self._outbox_sent = self._outbox_sent, None
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for channel, data in batch:
                        pipe.publish(channel, data)
                    await pipe.execute()
            except (RedisError, OSError, RuntimeError) as exc:
                self._warn_publish(exc)
            finally:
                if sent is not None and not sent.done():
                    sent.set_result(None)

    def _warn_publish(self, exc: BaseException) -> None:
        # Once a second at most: during an outage every send would otherwise log.
        now = time.monotonic()
        if now - self._last_publish_warning > 1.0:
            self._last_publish_warning = now
            log.warning("publish to Redis failed (%s); clients will catch up from the store", exc)

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._client.ping(), _SOCKET_TIMEOUT))
        except (RedisError, OSError, TimeoutError):
            return False

    # -------------------------------------------------------------- subscribing

    async def subscribe(self, channel: str) -> None:
        if channel in self._channels:
            return
        self._channels.add(channel)
        self._wanted.set()
        self._pending_unsub.discard(channel)
        if self._connected:
            # Returns once SUBSCRIBE is sent (with whatever else this tick asked for).
            self._pending_sub.add(channel)
            await self._batch()

    async def unsubscribe(self, channel: str) -> None:
        if channel not in self._channels:
            return
        self._channels.discard(channel)
        self._pending_sub.discard(channel)
        if not self._channels:
            self._wanted.clear()
        if self._connected:
            # Nobody waits for an unsubscribe: a few stray messages until it lands are ignored.
            self._pending_unsub.add(channel)
            self._batch()

    def _batch(self) -> asyncio.Future[None]:
        """The (un)subscribes of one loop tick go out as one command each (a thousand sockets
        closing at once cost one UNSUBSCRIBE, not a thousand round trips). One flusher task
        sends the batches in order, so an unsubscribe never overtakes a later subscribe."""
        if self._batch_sent is None:
            self._batch_sent = asyncio.get_running_loop().create_future()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_batches(), name="redis-broker-subscriptions")
        return self._batch_sent

    async def _flush_batches(self) -> None:
        while self._batch_sent is not None:
            await asyncio.sleep(0)  # let the rest of this tick join the batch
            sent, self._batch_sent = self._batch_sent, None
            subs, self._pending_sub = self._pending_sub, set()
            unsubs, self._pending_unsub = self._pending_unsub, set()
            pubsub = self._pubsub
            try:
                if self._connected and pubsub is not None:
                    for chunk in _chunks(sorted(subs)):
                        await pubsub.subscribe(*chunk)
                    for chunk in _chunks(sorted(unsubs)):
                        await pubsub.unsubscribe(*chunk)
            except (RedisError, OSError, RuntimeError) as exc:
                # The reader notices the broken connection and resubscribes everything.
                # (RuntimeError: uvloop's answer to a write on a connection closed under us.)
                log.warning("(un)subscribe failed (%s); resubscribed on reconnect", exc)
            finally:
                if not sent.done():
                    sent.set_result(None)

    async def _read_loop(self) -> None:
        backoff = _BACKOFF_FIRST
        outage = False
        while True:
            # redis-py's pubsub reads nothing useful until something is subscribed: wait for it.
            await self._wanted.wait()
            try:
                await self._open_pubsub()
                if outage:
                    log.warning("Redis is back; resubscribed %d channel(s)", len(self._channels))
                    metrics.BROKER_RECONNECTS.inc()
                    if self._on_reconnect is not None:
                        await self._on_reconnect()
                outage = False
                backoff = _BACKOFF_FIRST
                await self._pump()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, RuntimeError) as exc:
                # RuntimeError: uvloop's answer to using a connection closed under us. Whatever
                # broke, this loop must not die: without it this process would hear nothing.
                if not outage:
                    log.warning("lost Redis (%s); serving local sockets, reconnecting", exc)
                outage = True
                await self._drop_pubsub()
                # Full jitter: many processes losing Redis together do not come back in step.
                await asyncio.sleep(random.uniform(0, backoff))  # noqa: S311 - not for security
                backoff = min(_BACKOFF_CAP, backoff * 2)

    async def _open_pubsub(self) -> None:
        pubsub = self._sub_client.pubsub(ignore_subscribe_messages=True)
        channels = list(self._channels)
        if channels:
            await pubsub.subscribe(*channels)
        self._pubsub = pubsub
        self._connected = True
        # Channels added while SUBSCRIBE was in flight.
        missing = self._channels.difference(channels)
        if missing:
            await pubsub.subscribe(*missing)

    async def _pump(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None  # noqa: S101 - opened just before
        while True:
            if not self._channels:
                await self._drop_pubsub()
                return
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            data: bytes = message["data"]
            if data.startswith(self._origin):
                continue  # our own, delivered here when it was published
            raw = message["channel"]
            channel = raw.decode() if isinstance(raw, bytes) else str(raw)
            if channel in self._channels:  # not one whose UNSUBSCRIBE is still on its way
                self._dispatch(channel, data[_TAG_LEN:])

    async def _drop_pubsub(self) -> None:
        self._connected = False
        # The next connection subscribes to all of self._channels afresh.
        self._pending_sub.clear()
        self._pending_unsub.clear()
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError, RuntimeError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py


def _chunks(channels: list[str], size: int = 1000) -> list[list[str]]:
    return [channels[i : i + size] for i in range(0, len(channels), size)]
