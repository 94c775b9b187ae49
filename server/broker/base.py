"""The Broker contract: at-most-once fan-out of "something new" hints between processes."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable

MessageHandler = Callable[[str, bytes], None]
ReconnectHandler = Callable[[], Awaitable[None]]


class Broker(abc.ABC):
    """Publish bytes on a channel; every process subscribed to it gets them, at most once.

    Guarantees, and the lack of them, are the design: a message may be lost (Redis pub/sub drops
    on disconnect or when a subscriber falls behind). Everything published is already stored with
    a sequence number, so the hub recovers losses from the store; `on_reconnect` tells it when
    a loss may have happened. Each process holds one subscription connection, never one per client.

    `publish` never raises on a broken connection: the store already holds the truth, and the
    caller (a chat send, a campaign) must not fail because the hint could not be sent.
    """

    def __init__(self) -> None:
        self._handler: MessageHandler | None = None
        self._on_reconnect: ReconnectHandler | None = None

    def set_handlers(self, on_message: MessageHandler, on_reconnect: ReconnectHandler | None = None) -> None:
        """`on_message(channel, data)` is called synchronously, in publish order per channel."""
        self._handler = on_message
        self._on_reconnect = on_reconnect

    def _dispatch(self, channel: str, data: bytes) -> None:
        if self._handler is not None:
            self._handler(channel, data)

    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def publish(self, channel: str, data: bytes) -> None: ...

    async def publish_many(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish several messages; backends batch them (one round trip for Redis)."""
        for channel, data in messages:
            await self.publish(channel, data)

    @abc.abstractmethod
    async def subscribe(self, channel: str) -> None:
        """Idempotent: subscribing twice to a channel is the same as once."""

    @abc.abstractmethod
    async def unsubscribe(self, channel: str) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the broker is reachable now (for /readyz)."""
