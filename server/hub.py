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
from collections.abc import Iterable

from server import streams
from server.broker import Broker
from server.protocol import Event, Reset, Resumed, encode_text
from server.settings import Settings
from server.store.conversations import ConversationStore, StoredEvent

log = logging.getLogger("rapport.hub")

_BATCH = 200


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

    @abc.abstractmethod
    def send(self, frame: str) -> None:
        """Queue a text frame without waiting; a peer that cannot keep up closes itself."""

    @abc.abstractmethod
    async def send_paced(self, frame: str) -> None:
        """Queue a frame, waiting for room: replays go at the pace the client reads."""


class Hub:
    def __init__(self, broker: Broker, conversations: ConversationStore, settings: Settings, epoch: str) -> None:
        self._broker = broker
        self._conversations = conversations
        self._settings = settings
        self._epoch = epoch
        self._members: dict[str, set[Peer]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._checker: asyncio.Task[None] | None = None
        broker.set_handlers(self._on_message, self._on_reconnect)

    # -------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self._checker = asyncio.create_task(self._position_check_loop(), name="hub-position-check")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._checker] if self._checker else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def peers(self) -> set[Peer]:
        found: set[Peer] = set()
        for members in self._members.values():
            found |= members
        return found

    @property
    def connections(self) -> int:
        return len(self.peers())

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
        conversation_id = streams.conversation_of(channel)
        if conversation_id is not None:
            peer.cursors.pop(conversation_id, None)
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

    async def follow(self, peer: Peer, conversation_id: str, after: int, *, epoch: str | None = None) -> None:
        """Join a conversation's stream and bring the peer up to date from `after`.

        Sends the missed events then `resumed`, or a `reset` snapshot when the client is too far
        behind, comes from another epoch (a restored store) or knows nothing yet of a long one.
        """
        await self.join(peer, streams.conversation(conversation_id))
        summary = await self._conversations.get(conversation_id)
        if summary is None or peer.closed:
            return
        stale_epoch = epoch is not None and epoch != self._epoch and after > 0
        if stale_epoch or summary.last_seq - after > self._settings.replay_limit or after > summary.last_seq:
            stored = await self._conversations.latest_events(conversation_id, self._settings.snapshot_events)
            last = stored[-1].event.seq if stored else 0
            cursor = peer.cursors[conversation_id] = Cursor(last)
            peer.send(encode_text(Reset(conversation=summary, epoch=self._epoch, events=self._visible(peer, stored))))
            if summary.last_seq > last or cursor.again:
                self._spawn(self._catch_up(peer, conversation_id))
            return
        existing = peer.cursors.get(conversation_id)
        if existing is None:
            peer.cursors[conversation_id] = Cursor(after)
        else:
            existing.seq = min(existing.seq, after)
        await self._catch_up(peer, conversation_id)
        if not peer.closed and conversation_id in peer.cursors:
            peer.send(encode_text(Resumed(conversation_id=conversation_id, seq=peer.cursors[conversation_id].seq)))

    def _visible(self, peer: Peer, stored: Iterable[StoredEvent]) -> list[Event]:
        return [s.event for s in stored if peer.sees_private or not s.private]

    # -------------------------------------------------------------- delivery

    def _on_message(self, channel: str, data: bytes) -> None:
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
            self._deliver_event(channel, members, int(seq_text), private_text == "1", frame)
        elif kind in ("g", "r"):
            for peer in list(members):
                self._spawn(self._regrant(peer, kind == "g", arg, frame))

    def _deliver_event(self, channel: str, members: set[Peer], seq: int, private: bool, frame: str) -> None:
        conversation_id = channel[5:]
        for peer in list(members):
            cursor = peer.cursors.get(conversation_id)
            if cursor is None:
                continue  # joined, but its first read has not set a cursor yet; that read covers this
            if cursor.syncing:
                cursor.again = True
            elif seq == cursor.seq + 1:
                cursor.seq = seq
                if peer.sees_private or not private:
                    peer.send(frame)
            elif seq > cursor.seq:
                self._spawn(self._catch_up(peer, conversation_id))

    async def _regrant(self, peer: Peer, grant: bool, conversation_id: str, frame: str) -> None:
        if peer.closed:
            return
        if grant:
            peer.send(frame)
            if conversation_id not in peer.cursors:
                await self.follow(peer, conversation_id, 0)
        else:
            await self.leave(peer, streams.conversation(conversation_id))
            peer.send(frame)

    async def _catch_up(self, peer: Peer, conversation_id: str) -> None:
        """Read from the store until the peer's cursor reaches the stream's end, in order."""
        cursor = peer.cursors.get(conversation_id)
        if cursor is None:
            return
        if cursor.syncing:
            cursor.again = True
            return
        cursor.syncing = True
        try:
            while True:
                cursor.again = False
                stored = await self._conversations.events_after(conversation_id, cursor.seq, _BATCH)
                if peer.closed or peer.cursors.get(conversation_id) is not cursor:
                    return
                for item in stored:
                    if item.event.seq <= cursor.seq:
                        continue
                    cursor.seq = item.event.seq
                    if peer.sees_private or not item.private:
                        await peer.send_paced(encode_text(item.event))
                        if peer.closed:
                            return
                if len(stored) < _BATCH and not cursor.again:
                    return
        finally:
            cursor.syncing = False

    def _spawn(self, coro: asyncio.Future[None] | asyncio.Task[None] | object) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hub task failed", exc_info=task.exception())

    # -------------------------------------------------------------- recovery

    async def _on_reconnect(self) -> None:
        """The broker may have dropped hints while it was away: compare every stream with the store."""
        await self.check_positions()

    async def check_positions(self) -> None:
        conversation_ids = [c for c in (streams.conversation_of(ch) for ch in self._members) if c is not None]
        for start in range(0, len(conversation_ids), 500):
            chunk = conversation_ids[start : start + 500]
            last = await self._conversations.last_seqs(chunk)
            for conversation_id in chunk:
                for peer in list(self._members.get(streams.conversation(conversation_id), ())):
                    cursor = peer.cursors.get(conversation_id)
                    if cursor is not None and cursor.seq < last.get(conversation_id, 0):
                        self._spawn(self._catch_up(peer, conversation_id))

    async def _position_check_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.position_check_interval)
            try:
                await self.check_positions()
            except Exception:
                log.exception("position check failed")
