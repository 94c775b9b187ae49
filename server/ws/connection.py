"""One WebSocket as the hub's Peer: a bounded send queue, drained by a writer task while it holds frames."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from server.chat.access import Actor, may_follow
from server.hub import Peer
from server.metrics import FRAMES_OUT
from server.protocol import CloseCode
from server.ws.transport import ABORT, SEND_NOW

log = logging.getLogger("rapport.ws")

_ids = itertools.count(1)

CLOSE_WAIT = 10.0


class Connection(Peer):
    """Frames are queued without waiting, so a broadcast never waits for a slow reader.

    A client that stops reading fills its queue; it is then closed with SLOW_CONSUMER (4001)
    rather than slowing anyone else or growing memory. It loses nothing: it reconnects and
    resumes from its cursors.

    The writer task exists only while frames are waiting: an idle connection holds a deque and
    no task (a task and its coroutine cost a few KiB on each of thousands of idle sockets).
    """

    def __init__(self, websocket: WebSocket, *, queue_frames: int, sees_private: bool) -> None:
        super().__init__()
        self.id = next(_ids)
        self.websocket = websocket
        self.sees_private = sees_private
        # Only while frames wait: a deque is ~750 bytes, on each of thousands of idle sockets.
        self._frames: collections.deque[str] | None = None
        self._limit = queue_frames
        self._writer: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None  # only while a paced replay waits for room
        # Set when the server is uvicorn with ws/transport.py's protocol: frames go straight out
        # while nothing is queued ahead of them.
        self._send_now: Callable[[str], bool] | None = websocket.scope.get("extensions", {}).get(SEND_NOW)
        self._owner = asyncio.current_task()
        self.close_code: int | None = None
        self.actor: Actor | None = None  # set once the hello is accepted

    def keeps_access(self, frame: str) -> bool:
        return self.actor is not None and may_follow(self.actor, frame)

    def send(self, frame: str) -> None:
        if self.closed:
            return
        if self._writer is None and self._send_now is not None and self._send_now(frame):
            FRAMES_OUT.inc()
            return
        frames = self._frames
        if frames is None:
            frames = self._frames = collections.deque()
        if len(frames) >= self._limit:
            log.warning("connection %d is a slow consumer; closing", self.id)
            self.close_soon(CloseCode.SLOW_CONSUMER, "slow consumer: resume from your cursors")
            return
        frames.append(frame)
        FRAMES_OUT.inc()  # queued: it goes out unless the connection closes first
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    @property
    def backlog(self) -> int:
        return len(self._frames or ())

    async def send_paced(self, frame: str) -> None:
        # Waits for room, re-checking `closed` every second, so a replay to a client that went
        # away ends too.
        while not self.closed and len(self._frames or ()) >= self._limit // 2:
            room = self._room = self._room or asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(room.wait(), 1.0)
        self.send(frame)

    async def _write_loop(self) -> None:
        try:
            while self._frames:
                await self.websocket.send_text(self._frames.popleft())
                if self._room is not None and len(self._frames or ()) < self._limit // 2:
                    self._room.set()
                    self._room = None
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed = True
        finally:
            self._writer = None
            if not self._frames:
                self._frames = None
            if self._room is not None:
                self._room.set()
                self._room = None

    def close_soon(self, code: int, reason: str) -> None:
        """Close from synchronous code (the hub's fan-out); the writer stops sending at once."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._frames = None
        if self._writer is not None:
            self._writer.cancel()
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def flush_and_close(self, code: int, reason: str) -> None:
        """Let queued frames (an error explaining why) go out, for a second at most, then close."""
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), 1.0)
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._frames = None
        if self._writer is not None:
            self._writer.cancel()
        await self._close(code, reason)

    async def _close(self, code: int, reason: str) -> None:
        # A client that stopped reading has a full TCP window: the close frame waits behind the
        # data already written. Give it CLOSE_WAIT seconds to start reading again (it then sees
        # the code); otherwise end the session so its memory is freed, and let the transport go.
        try:
            await asyncio.wait_for(self.websocket.close(code=code, reason=reason[:120]), CLOSE_WAIT)
        except TimeoutError:
            # Drop the socket (its unsent bytes too) where the server lets us; otherwise the
            # transport would wait forever to flush before closing, and a graceful shutdown with it.
            abort = self.websocket.scope.get("extensions", {}).get(ABORT)
            if abort is not None:
                abort()
            if self._owner is not None and self._owner is not asyncio.current_task():
                self._owner.cancel()
        except Exception:  # noqa: S110 - the peer is gone already; nothing left to tell it
            pass

    async def stop(self) -> None:
        self.closed = True
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

