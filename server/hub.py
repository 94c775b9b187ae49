"""The sockets of this process, by channel, and in-order, exactly-once delivery of stored events to them.

The broker only hints that something is new and may drop hints; the hub keeps, per connection and
conversation, the last seq it delivered (its cursor). A hint with the next seq is delivered at
once; a hint that skips ahead makes the hub read the gap from the store; one already delivered is
dropped. After a broker reconnect, and on a timer (the position check), every local stream is
compared with the store, so even a lost *last* event reaches everyone.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from server import streams
from server.background import Background
from server.broker import Broker
from server.protocol import CloseCode
from server.settings import Settings

log = logging.getLogger("rapport.hub")

_BATCH = 200


class Item:
    """One stored item of a stream, ready to send: its seq, whether only agents may see it, its frame.

    An empty frame marks an item nobody is sent any more (an expired offer): the cursor moves
    past it all the same.
    """

    __slots__ = ("frame", "private", "seq")

    def __init__(self, seq: int, private: bool, frame: str) -> None:
        self.seq = seq
        self.private = private
        self.frame = frame


class StreamSource(abc.ABC):
    """Where the hub reads a kind of stream (conversations, customers' inboxes) from the store."""

    @abc.abstractmethod
    async def after(self, stream_id: str, after: int, limit: int) -> list[Item]: ...

    @abc.abstractmethod
    async def last_seqs(self, stream_ids: list[str]) -> dict[str, int]: ...

    @abc.abstractmethod
    async def reset(self, stream_id: str, sees_private: bool) -> tuple[str, int] | None:
        """A snapshot frame replacing the client's state, and the seq it covers; None: no such stream."""

    @abc.abstractmethod
    def resumed(self, stream_id: str, seq: int) -> str:
        """The frame saying a catch-up reached `seq`."""


class Cursor:
    """Delivery state of one conversation on one connection."""

    __slots__ = ("again", "seq", "syncing")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.syncing = False  # a store read for this stream is in flight
        self.again = False  # a hint arrived meanwhile: read once more before going live


class Peer(abc.ABC):
    """One client connection as the hub sees it; ws/ implements it around a WebSocket."""

    sees_private: bool = False

    def __init__(self) -> None:
        self.cursors: dict[str, Cursor] = {}
        self.channels: set[str] = set()
        self.closed = False
        # What `x:` envelopes name to end this peer: an agent's console session id, "visitor"
        # for an anonymous shopper; None: no session ends it.
        self.session: str | None = None

    @abc.abstractmethod
    def send(self, frame: str) -> None:
        """Queue a text frame without waiting; a peer that cannot keep up closes itself."""

    @abc.abstractmethod
    async def send_paced(self, frame: str) -> None:
        """Queue a frame, waiting for room: replays go at the pace the client reads."""

    @abc.abstractmethod
    def close_soon(self, code: int, reason: str) -> None:
        """Close the connection; frames already queued may be dropped."""

    @property
    def backlog(self) -> int:
        """Frames queued for this peer, not yet written."""
        return 0

    def keeps_access(self, frame: str) -> bool:
        """After an access change (`frame`: the conversation's new summary), may this peer go on
        following the conversation? Peers that decide per actor override this."""
        return True


class LocalDelivery(Protocol):
    """What a service that serves this process's own sockets needs of the hub: who is connected
    here, and handing them envelopes now, without the broker.

    For what every process produces for its own sockets (a broadcast, which each process stores
    for the customers connected to it): publishing it would only echo it back to this process.
    `deliver` takes the envelopes of `server.streams`, as the broker would carry them, and
    delivers them in the order given, synchronously, with the same cursors as a broker message.
    """

    def connected(self, kind: str) -> list[str]:
        """Ids of the streams of a kind (e.g. "inbox": customers) that have a socket here now."""
        ...

    def deliver(self, messages: list[tuple[str, bytes]]) -> None:
        """Deliver (channel, envelope) pairs to this process's sockets only."""
        ...


class Hub:
    """Implements LocalDelivery."""

    def __init__(self, broker: Broker, sources: dict[str, StreamSource], settings: Settings, epoch: str) -> None:
        self._broker = broker
        self._sources = sources  # by channel prefix: "conv", "inbox"
        self._settings = settings
        self._epoch = epoch
        self._members: dict[str, set[Peer]] = {}
        self._listeners: dict[str, Callable[[str], None]] = {}
        self._reconnect_hooks: list[Callable[[], Awaitable[None]]] = []
        self._tasks = Background(log, "hub task")
        self._checker: asyncio.Task[None] | None = None
        broker.set_handlers(self._on_message, self._on_reconnect)

    # -------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._checker = asyncio.create_task(self._position_check_loop(), name="hub-position-check")

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._checker
        await self._tasks.stop()

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """A service (not a socket) wants this channel's ephemeral frames, e.g. campaign hints."""
        self._listeners[channel] = callback
        await self._broker.subscribe(channel)

    def connected(self, kind: str) -> list[str]:
        """Ids of the streams of a kind that have a socket here (e.g. customers connected now)."""
        start = kind + ":"
        return [ch[len(start) :] for ch in self._members if ch.startswith(start)]

    def deliver(self, messages: list[tuple[str, bytes]]) -> None:
        """To this process's sockets only, now, exactly as if each had come from the broker."""
        for channel, data in messages:
            self._on_message(channel, data)

    def peers(self) -> set[Peer]:
        found: set[Peer] = set()
        for members in self._members.values():
            found |= members
        return found

    @property
    def connections(self) -> int:
        return len(self.peers())

    def backlog(self) -> int:
        """Frames queued and not yet written, on every socket here (a sample for the metrics)."""
        return sum(peer.backlog for peer in self.peers())

    # -------------------------------------------------------------- membership

    async def join(self, peer: Peer, channel: str) -> None:
        members = self._members.get(channel)
        if members is None:
            members = self._members[channel] = set()
            # Subscribe before anyone reads the store for this channel: a hint published between
            # the read and the subscription would otherwise be missed until the position check.
            await self._broker.subscribe(channel)
        members.add(peer)
        peer.channels.add(channel)

    async def leave(self, peer: Peer, channel: str) -> None:
        peer.channels.discard(channel)
        peer.cursors.pop(channel, None)
        members = self._members.get(channel)
        if members is None:
            return
        members.discard(peer)
        if not members:
            del self._members[channel]
            await self._broker.unsubscribe(channel)

    async def leave_all(self, peer: Peer) -> None:
        peer.closed = True
        for channel in list(peer.channels):
            await self.leave(peer, channel)

    def _source(self, channel: str) -> tuple[StreamSource, str]:
        prefix, _, stream_id = channel.partition(":")
        return self._sources[prefix], stream_id

    async def follow(self, peer: Peer, channel: str, after: int, *, epoch: str | None = None) -> None:
        """Join a stored stream and bring the peer up to date from `after`.

        Sends the missed items then a "resumed" frame, or a reset snapshot when the client is
        too far behind, comes from another epoch (a restored store), or is ahead of the store.
        """
        source, stream_id = self._source(channel)
        await self.join(peer, channel)
        # A new follower's cursor is set before the stream's end is read, holding hints (syncing):
        # a hint that comes during the read marks it `again` rather than being skipped. So when
        # the client is already at the end and nothing came meanwhile, there is no gap to read:
        # one store read per stream instead of two, on every reconnect.
        early = None
        if channel not in peer.cursors:
            early = peer.cursors[channel] = Cursor(after)
            early.syncing = True
        last = (await source.last_seqs([stream_id])).get(stream_id)
        if early is not None and peer.cursors.get(channel) is early:
            early.syncing = False
            if last is None:
                del peer.cursors[channel]  # no such stream: as before, no cursor
        if last is None or peer.closed:
            return
        stale_epoch = epoch is not None and epoch != self._epoch and after > 0
        if stale_epoch or last - after > self._settings.replay_limit or after > last:
            snapshot = await source.reset(stream_id, peer.sees_private)
            if snapshot is None or peer.closed:
                return
            frame, covered = snapshot
            cursor = peer.cursors[channel] = Cursor(covered)
            peer.send(frame)
            if last > covered or cursor.again:
                self._tasks.spawn(self._catch_up(peer, channel))
            return
        existing = peer.cursors.get(channel)
        if existing is None:
            peer.cursors[channel] = Cursor(after)
        elif existing is early:
            if last == after and not early.again:
                peer.send(source.resumed(stream_id, after))
                return
            early.again = False
        else:
            existing.seq = min(existing.seq, after)
        await self._catch_up(peer, channel)
        caught_up = peer.cursors.get(channel)
        if not peer.closed and caught_up is not None:
            peer.send(source.resumed(stream_id, caught_up.seq))

    # -------------------------------------------------------------- delivery

    def _on_message(self, channel: str, data: bytes) -> None:
        listener = self._listeners.get(channel)
        if listener is not None:
            try:
                listener(streams.parse(data)[2])
            except Exception:
                log.exception("listener of %s failed", channel)
        members = self._members.get(channel)
        if not members:
            return
        try:
            kind, arg, frame = streams.parse(data)
        except ValueError:
            log.error("dropped a malformed envelope on %s", channel)
            return
        if kind == "f":
            for peer in list(members):
                peer.send(frame)
        elif kind == "e":
            seq_text, _, private_text = arg.partition(".")
            self._deliver_item(channel, members, int(seq_text), private_text == "1", frame)
        elif kind in ("g", "r"):
            for peer in list(members):
                self._tasks.spawn(self._regrant(peer, kind == "g", arg, frame))
        elif kind == "a":
            # Who may read the conversation changed (assigned, transferred): followers who no
            # longer may, leave it now, whichever process they are on (an agent who looked at it
            # while it waited must not go on receiving its messages and notes).
            for peer in list(members):
                if not peer.keeps_access(frame):
                    self._tasks.spawn(self._regrant(peer, False, streams.conversation_of(channel) or "", frame))
        elif kind == "x":
            for peer in list(members):
                if arg == "*" or (peer.session is not None and peer.session == arg):
                    peer.send(frame)
                    peer.close_soon(CloseCode.SESSION_ENDED, "session ended")

    def _deliver_item(self, channel: str, members: set[Peer], seq: int, private: bool, frame: str) -> None:
        for peer in list(members):
            cursor = peer.cursors.get(channel)
            if cursor is None:
                continue  # joined, but its first read has not set a cursor yet; that read covers this
            if cursor.syncing:
                cursor.again = True
            elif seq == cursor.seq + 1:
                cursor.seq = seq
                if peer.sees_private or not private:
                    peer.send(frame)
            elif seq > cursor.seq:
                self._tasks.spawn(self._catch_up(peer, channel))

    async def _regrant(self, peer: Peer, grant: bool, conversation_id: str, frame: str) -> None:
        if peer.closed:
            return
        channel = streams.conversation(conversation_id)
        if grant:
            peer.send(frame)
            if channel not in peer.cursors:
                await self.follow(peer, channel, 0)
        else:
            await self.leave(peer, channel)
            peer.send(frame)

    async def _catch_up(self, peer: Peer, channel: str) -> None:
        """Read from the store until the peer's cursor reaches the stream's end, in order."""
        cursor = peer.cursors.get(channel)
        if cursor is None:
            return
        if cursor.syncing:
            cursor.again = True
            return
        source, stream_id = self._source(channel)
        cursor.syncing = True
        try:
            while True:
                cursor.again = False
                items = await source.after(stream_id, cursor.seq, _BATCH)
                if peer.closed or peer.cursors.get(channel) is not cursor:
                    return
                for item in items:
                    if item.seq <= cursor.seq:
                        continue
                    cursor.seq = item.seq
                    if item.frame and (peer.sees_private or not item.private):
                        await peer.send_paced(item.frame)
                        if peer.closed:
                            return
                if len(items) < _BATCH and not cursor.again:
                    return
        finally:
            cursor.syncing = False

    # -------------------------------------------------------------- recovery

    def on_reconnect(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Also run `hook` after the broker reconnects (services with hints of their own)."""
        self._reconnect_hooks.append(hook)

    async def _on_reconnect(self) -> None:
        """The broker may have dropped hints while it was away: compare every stream with the store."""
        await self.check_positions()
        for hook in self._reconnect_hooks:
            try:
                await hook()
            except Exception:
                log.exception("reconnect hook failed")

    async def check_positions(self) -> None:
        by_prefix: dict[str, list[str]] = {}
        for channel in self._members:
            prefix, _, stream_id = channel.partition(":")
            if prefix in self._sources:
                by_prefix.setdefault(prefix, []).append(stream_id)
        for prefix, stream_ids in by_prefix.items():
            for start in range(0, len(stream_ids), 500):
                chunk = stream_ids[start : start + 500]
                last = await self._sources[prefix].last_seqs(chunk)
                for stream_id in chunk:
                    channel = f"{prefix}:{stream_id}"
                    for peer in list(self._members.get(channel, ())):
                        cursor = peer.cursors.get(channel)
                        if cursor is not None and cursor.seq < last.get(stream_id, 0):
                            self._tasks.spawn(self._catch_up(peer, channel))

    async def _position_check_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.position_check_interval)
            try:
                await self.check_positions()
            except Exception:
                log.exception("position check failed")
