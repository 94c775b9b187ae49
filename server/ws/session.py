"""The life of one client socket: origin check, hello, then frames in, validated, to the services.

The widget and agent endpoints share this loop and differ only in how a hello becomes an actor
and which frames they may send. Every frame is decoded and validated here, at the edge; a bad
one gets an `error` frame with a code and the connection goes on serving the client.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from starlette.websockets import WebSocket, WebSocketDisconnect

from server import logs, metrics, streams
from server.auth.origins import origin_allowed
from server.chat.access import Actor
from server.errors import Problem
from server.node import Node
from server.protocol import (
    Ack,
    ClientFrame,
    CloseCode,
    ConversationClose,
    ConversationRate,
    ConversationReopen,
    Error,
    ErrorCode,
    FrameError,
    Hello,
    MessageEdit,
    MessageSend,
    Read,
    Resume,
    Typing,
    decode_client_frame,
    encode_text,
)
from server.ws.connection import Connection

log = logging.getLogger("rapport.ws")

Handler = Callable[[Any], Awaitable[None]]


class Terminate(Exception):
    """Close the connection with `code` after telling the client why."""

    def __init__(self, code: CloseCode, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.error = error
        self.message = message


class ClientSession(abc.ABC):
    role: str
    sees_private = False

    # Frame type -> the method that handles it; a class attribute, so that thousands of
    # sessions do not each hold a dict of bound methods.
    handlers: ClassVar[dict[type[Any], str]] = {
        MessageSend: "on_message_send",
        MessageEdit: "on_message_edit",
        Typing: "on_typing",
        Read: "on_read",
        Resume: "on_resume",
        ConversationClose: "on_close",
        ConversationReopen: "on_reopen",
        ConversationRate: "on_rate",
    }

    def __init__(self, websocket: WebSocket, node: Node) -> None:
        self.ws = websocket
        self.node = node
        self.settings = node.settings
        self.conn = Connection(websocket, queue_frames=self.settings.send_queue_frames, sees_private=self.sees_private)
        self.actor: Actor | None = None
        self.refused = 0  # frames refused in a row for going too fast
        self.client_close: int | None = None  # the code the client closed with, for the log

    # -------------------------------------------------------------- role specifics

    def origin_ok(self) -> bool:
        return origin_allowed(self.ws.headers, self.settings.public_url, self.allowed_origins())

    @property
    def address(self) -> str:
        """The client's address (after uvicorn's proxy-headers rewrite, as configured)."""
        client = self.ws.client
        return client.host if client is not None else "unknown"

    def become(self, actor: Actor) -> None:
        """The hello is accepted: this connection acts as `actor` from now on."""
        self.actor = actor
        self.conn.actor = actor
        (logs.AGENT_ID if actor.type == "agent" else logs.CUSTOMER_ID).set(actor.id)
        wait = self.node.limits.paused(actor.id)
        if wait > 0:
            raise Terminate(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED, f"too many frames; wait {wait:.0f} s")

    @abc.abstractmethod
    def allowed_origins(self) -> tuple[str, ...]: ...

    async def authenticate(self) -> None:
        """Checks of the handshake's credentials, before the hello is read (raise Terminate)."""
        return None

    @abc.abstractmethod
    async def start(self, hello: Hello) -> None:
        """Turn the hello into self.actor, send welcome, join streams."""

    async def finish(self) -> None:
        """Undo start(): presence and the like."""
        return None

    def check_still_authorised(self) -> None:
        """Called before every frame: identity proofs can expire mid-connection."""
        return None

    # -------------------------------------------------------------- the loop

    async def run(self) -> None:
        # This connection's task: every line logged while serving it carries its ids.
        logs.CONNECTION_ID.set(self.conn.id)
        if not self.origin_ok():
            log.warning("%s socket refused: origin %r", self.role, self.ws.headers.get("origin"))
            await self.ws.close(code=1008)  # before accept: the handshake fails with HTTP 403
            return
        await self.ws.accept()
        opened = time.monotonic()
        gauge = metrics.AGENT_CONNECTIONS if self.role == "agent" else metrics.CUSTOMER_CONNECTIONS
        gauge.inc()
        try:
            wait = self.node.limits.connect(self.address)
            if wait > 0:
                raise Terminate(
                    CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED, f"too many connections; wait {wait:.0f} s"
                )
            await self.authenticate()
            await self.start(await self._hello())  # the hello is not kept for the connection's life
            log.info("%s connection opened", self.role, extra={"role": self.role, "address": self.address})
            await self._serve()
        except Terminate as exc:
            if exc.code == CloseCode.RATE_LIMITED:
                # Reconnecting at once must not sidestep the limit: this client waits first.
                self.node.limits.pause(self.address, *([self.actor.id] if self.actor else []))
            self.conn.send(encode_text(Error(code=exc.error, message=exc.message)))
            await self.conn.flush_and_close(exc.code, exc.message)
        except WebSocketDisconnect as exc:
            self.client_close = self.client_close or exc.code
        except asyncio.CancelledError:
            # Cancelled: a slow consumer that never read its close frame (Connection._close).
            pass
        finally:
            gauge.dec()
            # Read before leaving: which conversations it followed (only if the line is logged).
            logged = log.isEnabledFor(logging.INFO)
            followed = self.conn.channels | set(self.conn.cursors) if logged else set()
            await self.node.hub.leave_all(self.conn)
            await self.finish()
            await self.conn.stop()
            if logged:
                log.info(
                    "%s connection closed",
                    self.role,
                    extra={
                        "role": self.role,
                        "code": self.conn.close_code or self.client_close,
                        "seconds": round(time.monotonic() - opened, 3),
                        "conversation_ids": sorted(filter(None, map(streams.conversation_of, followed))),
                    },
                )

    async def _hello(self) -> Hello:
        try:
            raw = await asyncio.wait_for(self._receive(), self.settings.hello_timeout)
        except TimeoutError:
            raise Terminate(CloseCode.HELLO_TIMEOUT, ErrorCode.HELLO_REQUIRED, "no hello in time") from None
        if raw is None:
            raise WebSocketDisconnect(1000)
        try:
            frame = decode_client_frame(raw)
        except FrameError as exc:
            raise Terminate(CloseCode.BAD_PROTOCOL, exc.code, f"first frame must be a hello: {exc.message}") from None
        if not isinstance(frame, Hello):
            raise Terminate(CloseCode.BAD_PROTOCOL, ErrorCode.HELLO_REQUIRED, "first frame must be a hello")
        return frame

    async def _receive(self) -> str | None:
        """The next text frame; None when the peer went away. Binary frames are refused."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self.client_close = message.get("code")
                return None
            metrics.FRAMES_IN.inc()
            text = message.get("text")
            if text is None:
                self.error(ErrorCode.INVALID_FRAME, "frames are JSON text, not binary")
                continue
            if len(text) > self.settings.max_frame_bytes:
                # uvicorn enforces ws_max_size already; this guards other servers.
                await self.conn.flush_and_close(1009, "frame too large")
                return None
            return str(text)

    async def _serve(self) -> None:
        while not self.conn.closed:
            raw = await self._receive()
            if raw is None:
                return
            # Per customer or agent, not per socket: opening more sockets buys no more frames.
            if not self.node.limits.frame(self.me.id):
                self.refused += 1
                if self.refused > self.settings.rate_burst:
                    raise Terminate(CloseCode.RATE_LIMITED, ErrorCode.RATE_LIMITED, "too many frames; slow down")
                self.error(ErrorCode.RATE_LIMITED, "too many frames; this one was dropped")
                continue
            self.refused = 0
            self.check_still_authorised()
            try:
                frame = decode_client_frame(raw)
            except FrameError as exc:
                self.error(exc.code, exc.message, exc.client_id)
                continue
            # Every error names the frame's client_id, so the client can settle what it sent.
            client_id = getattr(frame, "client_id", None)
            try:
                await self._handle(frame)
            except Problem as exc:
                self.error(exc.code, exc.message, exc.client_id or client_id)
            except Terminate:
                raise
            except Exception:
                log.exception("frame failed on %s connection %d", self.role, self.conn.id)
                self.error(ErrorCode.INTERNAL, "internal error; nothing was stored", client_id)

    async def _handle(self, frame: ClientFrame) -> None:
        if isinstance(frame, Hello):
            raise Problem(ErrorCode.INVALID_FRAME, "hello was already received")
        name = self.handlers.get(type(frame))
        if name is None:
            raise Problem(ErrorCode.FORBIDDEN, f"a {self.role} cannot send {type(frame).__struct_config__.tag}")
        handler: Handler = getattr(self, name)
        # Lines logged while this frame is handled name its conversation.
        token = logs.CONVERSATION_ID.set(getattr(frame, "conversation_id", None))
        try:
            await handler(frame)
        finally:
            logs.CONVERSATION_ID.reset(token)

    def error(self, code: ErrorCode, message: str, client_id: str | None = None) -> None:
        self.conn.send(encode_text(Error(code=code, message=message, client_id=client_id)))

    def ack(self, ack: Ack) -> None:
        self.conn.send(encode_text(ack))

    @property
    def me(self) -> Actor:
        assert self.actor is not None  # noqa: S101 - set by start() before any frame is served
        return self.actor

    # -------------------------------------------------------------- frames both roles send

    async def on_message_send(self, f: MessageSend) -> None:
        began = time.perf_counter()
        ack = await self.node.chat.send_message(
            self.me,
            client_id=f.client_id,
            text=f.text,
            conversation_id=f.conversation_id,
            private=f.private,
            address=self.address,
            contact=f.contact,
        )
        self.ack(ack)
        metrics.ACK_SECONDS.observe(time.perf_counter() - began)

    async def on_message_edit(self, f: MessageEdit) -> None:
        self.ack(
            await self.node.chat.edit_message(
                self.me, client_id=f.client_id, conversation_id=f.conversation_id, seq=f.seq, text=f.text
            )
        )

    async def on_typing(self, f: Typing) -> None:
        # Following it (access is re-checked whenever it changes hands) is what allows typing.
        if streams.conversation(f.conversation_id) not in self.conn.cursors:
            raise Problem(ErrorCode.NOT_FOUND, "not following that conversation")
        await self.node.chat.typing(self.me, f.conversation_id, f.active)

    async def on_read(self, f: Read) -> None:
        await self.node.chat.mark_read(self.me, f.conversation_id, f.seq)

    async def on_resume(self, f: Resume) -> None:
        await self.node.chat.readable(self.me, f.conversation_id)
        await self.node.hub.follow(self.conn, streams.conversation(f.conversation_id), f.after)

    async def on_close(self, f: ConversationClose) -> None:
        self.ack(await self.node.chat.close(self.me, client_id=f.client_id, conversation_id=f.conversation_id))

    async def on_reopen(self, f: ConversationReopen) -> None:
        self.ack(await self.node.chat.reopen(self.me, client_id=f.client_id, conversation_id=f.conversation_id))

    async def on_rate(self, f: ConversationRate) -> None:
        self.ack(
            await self.node.chat.rate(
                self.me, client_id=f.client_id, conversation_id=f.conversation_id, score=f.score, comment=f.comment
            )
        )

    async def follow_all(self, conversation_ids: list[str], hello: Hello) -> None:
        for conversation_id in conversation_ids:
            await self.node.hub.follow(
                self.conn,
                streams.conversation(conversation_id),
                hello.resume.get(conversation_id, 0),
                epoch=hello.epoch,
            )
