"""The agent's socket: authenticated at the handshake by the console session cookie."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, ClassVar, Literal

from starlette.websockets import WebSocket

from server import streams
from server.auth.sessions import COOKIE
from server.chat.access import Actor
from server.errors import Problem
from server.ids import now_ms
from server.node import Node
from server.protocol import (
    AgentInfo,
    CloseCode,
    ConversationTake,
    ConversationTransfer,
    Error,
    ErrorCode,
    Hello,
    Presence,
    PresenceSet,
    Queue,
    Welcome,
    encode_text,
)
from server.ws.session import ClientSession, Terminate

# Seconds between re-reads of an agent socket's session: catches what no envelope announced.
SESSION_RECHECK = 60.0


class AgentSession(ClientSession):
    role = "agent"
    sees_private = True

    handlers: ClassVar[dict[type[Any], str]] = {
        **ClientSession.handlers,
        ConversationTake: "on_take",
        ConversationTransfer: "on_transfer",
        PresenceSet: "on_presence",
    }

    def __init__(self, websocket: WebSocket, node: Node) -> None:
        super().__init__(websocket, node)
        self.status: Literal["online", "away"] = "online"
        self.expires_at = 0
        self._watch: asyncio.Task[None] | None = None

    def allowed_origins(self) -> tuple[str, ...]:
        return ()  # the console is served by this server: its own origin only

    async def authenticate(self) -> None:
        session = await self.node.sessions.authenticate(self.ws.cookies.get(COOKIE))
        if session is None:
            raise Terminate(CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "log in to the console first")
        agent = session.agent
        if agent.role not in ("agent", "admin"):
            raise Terminate(CloseCode.FORBIDDEN, ErrorCode.FORBIDDEN, "only agents and admins answer chats")
        # Logging out or an admin's change ends the session: an `x:` envelope on the agent's
        # channel names it (hub.py). Its expiry closes the socket too, and so does an end no
        # envelope announced (`rapport agent password` from the command line), found by _watch.
        self.conn.session = session.id
        self.expires_at = session.expires_at
        self.become(Actor(type="agent", id=agent.id, name=agent.name, role=agent.role))

    async def start(self, hello: Hello) -> None:
        node, me = self.node, self.me
        if hello.status is not None:
            self.status = hello.status
        self._watch = asyncio.create_task(self._watch_session(), name="agent-session-watch")
        # Presence first, channels next, state last: whatever changes after the joins arrives
        # as a frame after the welcome, and queue and presence frames always carry full state.
        await node.presence.set(me.id, self.conn.id, self.status)
        await node.hub.join(self.conn, streams.agent(me.id))
        await node.hub.join(self.conn, streams.AGENTS)
        conversations = await node.chat.conversations_of(me)
        agents = await node.presence.agents()
        online = any(a.status == "online" for a in agents)
        self.conn.send(
            encode_text(
                Welcome(
                    role="agent",
                    epoch=node.epoch,
                    max_message_chars=self.settings.max_message_chars,
                    agents_online=online,
                    conversations=conversations,
                    agent=AgentInfo(id=me.id, name=me.name or "", role=me.role or "agent", status=self.status),
                )
            )
        )
        self.conn.send(encode_text(Queue(waiting=await node.chat.waiting())))
        self.conn.send(encode_text(Presence(agents_online=online, agents=agents)))
        follow = [c.id for c in conversations]
        for conversation_id in hello.resume:
            if conversation_id not in follow:
                follow.append(conversation_id)
        readable = []
        for conversation_id in follow:
            try:
                await node.chat.readable(me, conversation_id)
            except Problem:
                self.error(ErrorCode.NOT_FOUND, f"no conversation {conversation_id} for you")
                continue
            readable.append(conversation_id)
        await self.follow_all(readable, hello)
        await node.chat.auto_assign()

    def check_still_authorised(self) -> None:
        if now_ms() >= self.expires_at:
            raise Terminate(CloseCode.SESSION_ENDED, ErrorCode.UNAUTHORIZED, "session expired; log in again")

    async def _watch_session(self) -> None:
        """Close the socket when its session expires or ends (re-read every SESSION_RECHECK s)."""
        session_id = self.conn.session
        while not self.conn.closed:
            await asyncio.sleep(min(SESSION_RECHECK, max(0.0, (self.expires_at - now_ms()) / 1000)))
            if self.conn.closed:
                return
            if now_ms() >= self.expires_at or session_id is None or not await self.node.sessions.active(session_id):
                self.conn.send(encode_text(Error(code=ErrorCode.UNAUTHORIZED, message="session ended; log in again")))
                self.conn.close_soon(CloseCode.SESSION_ENDED, "session ended")
                return

    async def finish(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.actor is not None:
            await self.node.presence.set(self.actor.id, self.conn.id, None)

    async def on_take(self, f: ConversationTake) -> None:
        self.ack(await self.node.chat.take(self.me, client_id=f.client_id, conversation_id=f.conversation_id))

    async def on_transfer(self, f: ConversationTransfer) -> None:
        self.ack(
            await self.node.chat.transfer(
                self.me, client_id=f.client_id, conversation_id=f.conversation_id, agent_id=f.agent_id, note=f.note
            )
        )

    async def on_presence(self, f: PresenceSet) -> None:
        self.status = f.status
        await self.node.presence.set(self.me.id, self.conn.id, f.status)
        if f.status == "online":
            await self.node.chat.auto_assign()


def agent_endpoint(websocket: WebSocket) -> Awaitable[None]:
    # Returns the session's coroutine rather than awaiting it: one frame less held per socket.
    return AgentSession(websocket, websocket.app.state.node).run()
