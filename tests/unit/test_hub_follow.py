"""Hub.follow: a client at the stream's end is resumed without a gap read, and an item committed
while the end is being read still reaches it, once, in order."""

from __future__ import annotations

import asyncio

from server import streams
from server.broker.memory import MemoryBroker
from server.hub import Hub, Item, Peer, StreamSource
from server.settings import Settings


class Stream(StreamSource):
    """A stream in memory; `hold` makes the next read of the end wait until released."""

    def __init__(self, last: int) -> None:
        self.items = [Item(n, False, f"item {n}") for n in range(1, last + 1)]
        self.reads: list[str] = []
        self.hold: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def after(self, stream_id: str, after: int, limit: int) -> list[Item]:
        self.reads.append(f"after {after}")
        return [i for i in self.items if i.seq > after][:limit]

    async def last_seqs(self, stream_ids: list[str]) -> dict[str, int]:
        self.reads.append("last")
        last = self.items[-1].seq if self.items else 0
        if self.hold is not None:
            self.reading.set()
            await self.hold.wait()
        return {s: last for s in stream_ids}

    async def reset(self, stream_id: str, sees_private: bool) -> tuple[str, int] | None:
        raise AssertionError("not expected here")

    def resumed(self, stream_id: str, seq: int) -> str:
        return f"resumed {seq}"


class Tab(Peer):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[str] = []

    def send(self, frame: str) -> None:
        self.frames.append(frame)

    def close_soon(self, code: int, reason: str) -> None:
        self.closed = True

    async def send_paced(self, frame: str) -> None:
        self.frames.append(frame)


async def hub_with(stream: Stream) -> tuple[Hub, MemoryBroker]:
    broker = MemoryBroker()
    await broker.connect()
    return Hub(broker, {"inbox": stream}, Settings(), "epoch"), broker


async def test_a_client_at_the_end_is_resumed_with_one_read() -> None:
    stream = Stream(last=3)
    hub, _ = await hub_with(stream)
    tab = Tab()
    await hub.follow(tab, streams.inbox("c1"), 3)
    assert tab.frames == ["resumed 3"]
    assert stream.reads == ["last"]


async def test_a_client_behind_gets_the_gap_then_resumed() -> None:
    stream = Stream(last=3)
    hub, _ = await hub_with(stream)
    tab = Tab()
    await hub.follow(tab, streams.inbox("c1"), 1)
    assert tab.frames == ["item 2", "item 3", "resumed 3"]


async def test_an_item_committed_while_the_end_is_read_is_not_missed() -> None:
    stream = Stream(last=3)
    hub, broker = await hub_with(stream)
    stream.hold = asyncio.Event()
    tab = Tab()
    following = asyncio.create_task(hub.follow(tab, streams.inbox("c1"), 3))
    await stream.reading.wait()
    # Item 4 is committed and its hint arrives while the end (3) is being read.
    stream.items.append(Item(4, False, "item 4"))
    await broker.publish(streams.inbox("c1"), streams.event_envelope(4, False, b"item 4"))
    stream.hold.set()
    await following
    await asyncio.sleep(0)
    assert tab.frames == ["item 4", "resumed 4"]
    # Live from here: item 5 comes by its hint alone.
    stream.items.append(Item(5, False, "item 5"))
    await broker.publish(streams.inbox("c1"), streams.event_envelope(5, False, b"item 5"))
    assert tab.frames == ["item 4", "resumed 4", "item 5"]
