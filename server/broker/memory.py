"""In-process broker: the default for one process; messages never leave it."""

from __future__ import annotations

from server.broker.base import Broker


class MemoryBroker(Broker):
    def __init__(self) -> None:
        super().__init__()
        self._channels: set[str] = set()

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        self._channels.clear()

    async def publish(self, channel: str, data: bytes) -> None:
        if channel in self._channels:
            self._dispatch(channel, data)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def ping(self) -> bool:
        return True
