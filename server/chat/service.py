"""Chat actions: each one validated, stored with its seq in one transaction, then published.

Nothing here touches a socket. Every action that stores an event follows the one rule: commit
first, then publish the hint, and return the acknowledgement the caller may send (the seq exists
in the store by then). A resent action (same author, same client_id) finds its original event
through a unique index and is answered with the original seq, marked duplicate.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import aiosqlite

from server import streams
from server.broker import Broker
from server.chat.access import Actor, can_read, can_write
from server.errors import Problem
from server.protocol import (
    Ack,
    ConversationSummary,
    ConversationUpdate,
    ErrorCode,
    Event,
    Queue,
    TypingNotice,
    encode,
)
from server.settings import Settings
from server.store import Database
from server.store.agents import AgentStore
from server.store.conversations import ConversationStore

log = logging.getLogger("rapport.chat")

Publication = tuple[str, bytes]


def _not_found(conversation_id: str, client_id: str | None = None) -> Problem:
    return Problem(ErrorCode.NOT_FOUND, f"no conversation {conversation_id} for you", client_id)


class ChatService:
    def __init__(
        self,
        db: Database,
        conversations: ConversationStore,
        agents: AgentStore,
        broker: Broker,
        settings: Settings,
    ) -> None:
        self._db = db
        self._conversations = conversations
        self._agents = agents
        self._broker = broker
        self._settings = settings

    # -------------------------------------------------------------- reading

    async def readable(self, actor: Actor, conversation_id: str) -> ConversationSummary:
        summary = await self._conversations.get(conversation_id)
        if summary is None or not can_read(actor, summary):
            raise _not_found(conversation_id)
        return summary

    async def transcript(self, actor: Actor, conversation_id: str, after: int, limit: int) -> list[Event]:
        await self.readable(actor, conversation_id)
        stored = await self._conversations.events_after(conversation_id, after, limit)
        sees_private = actor.type == "agent"
        return [s.event for s in stored if sees_private or not s.private]

    async def conversations_of(self, actor: Actor) -> list[ConversationSummary]:
        if actor.type == "customer":
            return await self._conversations.for_customer(actor.id)
        return await self._conversations.for_agent(actor.id)

    # -------------------------------------------------------------- messages

    async def send_message(
        self, actor: Actor, *, client_id: str, text: str, conversation_id: str | None = None, private: bool = False
    ) -> Ack:
        text = self._checked_text(text, client_id)
        if private and actor.type != "agent":
            raise Problem(ErrorCode.FORBIDDEN, "only agents write private notes", client_id)
        if (dup := await self._duplicate(actor, client_id)) is not None:
            return dup
        if conversation_id is None and actor.type != "customer":
            raise Problem(ErrorCode.INVALID_FRAME, "agents reply within a conversation: conversation_id", client_id)
        created = False
        out: list[Publication] = []
        try:
            async with self._db.transaction() as tx:
                if conversation_id is None:
                    conversation_id = await ConversationStore.create(tx, actor.id)
                    created = True
                else:
                    status = await self._writable(tx, actor, conversation_id, client_id)
                    if status == "closed" and actor.type == "customer":
                        # A shopper writing into a closed chat wants an answer: back to the queue.
                        await ConversationStore.set_state(
                            tx, conversation_id, status="waiting", agent_id=None, waiting=True
                        )
                        reopened = await self._append(
                            tx, conversation_id, kind="status", status="waiting", author_type="system"
                        )
                        out.append(self._event_publication(reopened, private=False))
                        created = True
                event = await self._append_publish(
                    tx,
                    out,
                    conversation_id,
                    actor,
                    kind="note" if private else "message",
                    text=text,
                    client_id=client_id,
                    private=private,
                )
                if not private:
                    await ConversationStore.set_preview(tx, conversation_id, text)
        except sqlite3.IntegrityError:
            # Two copies of one frame raced past the duplicate check; the index kept one.
            if (dup := await self._duplicate(actor, client_id)) is not None:
                return dup
            raise
        await self._publish(out)
        if created:
            await self._announce_new(actor.id, conversation_id)
        return Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)

    async def edit_message(self, actor: Actor, *, client_id: str, conversation_id: str, seq: int, text: str) -> Ack:
        text = self._checked_text(text, client_id)
        if (dup := await self._duplicate(actor, client_id)) is not None:
            return dup
        original = await self._conversations.event(conversation_id, seq)
        if original is None or original.event.author_id != actor.id or original.event.author_type != actor.type:
            raise Problem(ErrorCode.NOT_FOUND, "no message of yours with that seq", client_id)
        if original.event.kind not in ("message", "note"):
            raise Problem(ErrorCode.INVALID_FRAME, "only messages and notes can be edited", client_id)
        out: list[Publication] = []
        async with self._db.transaction() as tx:
            await self._writable(tx, actor, conversation_id, client_id)
            event = await self._append_publish(
                tx,
                out,
                conversation_id,
                actor,
                kind="edit",
                text=text,
                client_id=client_id,
                target_seq=seq,
                private=original.private,
            )
        await self._publish(out)
        return Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)

    async def mark_read(self, actor: Actor, conversation_id: str, seq: int) -> None:
        """Read receipts are stored events too, so an agent who reconnects sees them; only advances."""
        out: list[Publication] = []
        async with self._db.transaction() as tx:
            summary = await self._state(tx, conversation_id)
            if summary is None or not can_read(actor, summary[1]):
                raise _not_found(conversation_id)
            async with tx.execute(
                "SELECT COALESCE(MAX(target_seq), 0) FROM events"
                " WHERE conversation_id = ? AND kind = 'read' AND author_type = ?",
                (conversation_id, actor.type),
            ) as cur:
                row = await cur.fetchone()
            upto = min(seq, summary[1].last_seq)
            if row is not None and upto <= int(row[0]):
                return
            await self._append_publish(tx, out, conversation_id, actor, kind="read", target_seq=upto)
        await self._publish(out)

    async def typing(self, actor: Actor, conversation_id: str, active: bool) -> None:
        """Ephemeral: not stored, no seq, may be lost. The caller already checked membership."""
        frame = TypingNotice(
            conversation_id=conversation_id,
            author_type="agent" if actor.type == "agent" else "customer",
            author_id=actor.id,
            author_name=actor.name if actor.type == "agent" else None,
            active=active,
        )
        await self._broker.publish(streams.conversation(conversation_id), streams.frame_envelope(encode(frame)))

    # -------------------------------------------------------------- queue and assignment

    async def take(self, actor: Actor, *, client_id: str, conversation_id: str) -> Ack:
        if not actor.answers_chats:
            raise Problem(ErrorCode.FORBIDDEN, "only agents take conversations", client_id)
        if (dup := await self._duplicate(actor, client_id)) is not None:
            return dup
        out: list[Publication] = []
        async with self._db.transaction() as tx:
            state = await self._state(tx, conversation_id)
            if state is None:
                raise _not_found(conversation_id, client_id)
            # Every agent saw it in the queue, so saying it was taken reveals nothing new.
            if state[0] != "waiting" and not actor.is_admin:
                raise Problem(ErrorCode.CONFLICT, "this conversation is no longer waiting", client_id)
            event = await self._assign(
                tx, out, conversation_id, actor.id, state[1].agent_id, by=actor, client_id=client_id
            )
        await self._publish(out)
        await self.publish_queue()
        return Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)

    async def transfer(self, actor: Actor, *, client_id: str, conversation_id: str, agent_id: str) -> Ack:
        if (dup := await self._duplicate(actor, client_id)) is not None:
            return dup
        target = await self._agents.by_id(agent_id)
        if target is None or target.disabled or target.role not in ("agent", "admin"):
            raise Problem(ErrorCode.NOT_FOUND, "no such agent to transfer to", client_id)
        out: list[Publication] = []
        async with self._db.transaction() as tx:
            status = await self._writable(tx, actor, conversation_id, client_id)
            if status == "closed":
                raise Problem(ErrorCode.CONFLICT, "reopen the conversation before transferring it", client_id)
            state = await self._state(tx, conversation_id)
            assert state is not None  # noqa: S101 - _writable just found it in this transaction
            event = await self._assign(
                tx, out, conversation_id, agent_id, state[1].agent_id, by=actor, client_id=client_id
            )
        await self._publish(out)
        await self.publish_queue()
        return Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)

    async def close(self, actor: Actor, *, client_id: str, conversation_id: str) -> Ack:
        return await self._set_status(actor, client_id, conversation_id, "closed")

    async def reopen(self, actor: Actor, *, client_id: str, conversation_id: str) -> Ack:
        return await self._set_status(actor, client_id, conversation_id, "open")

    async def _set_status(self, actor: Actor, client_id: str, conversation_id: str, target: str) -> Ack:
        if (dup := await self._duplicate(actor, client_id)) is not None:
            return dup
        out: list[Publication] = []
        async with self._db.transaction() as tx:
            state = await self._state(tx, conversation_id)
            if state is None:
                raise _not_found(conversation_id, client_id)
            status, summary = state
            # Reopening a closed chat is allowed to whoever could read it when it was open.
            allowed = can_write(actor, summary) or (
                target == "open" and actor.type == "agent" and (actor.is_admin or summary.agent_id == actor.id)
            )
            if not allowed:
                raise _not_found(conversation_id, client_id)
            if target == "closed":
                if status == "closed":
                    raise Problem(ErrorCode.CONFLICT, "already closed", client_id)
                new_status, agent_id = "closed", summary.agent_id
            else:
                if status != "closed":
                    raise Problem(ErrorCode.CONFLICT, "not closed", client_id)
                # An agent reopening keeps it; a customer reopening goes back to the queue.
                new_status, agent_id = ("assigned", actor.id) if actor.type == "agent" else ("waiting", None)
            await ConversationStore.set_state(
                tx, conversation_id, status=new_status, agent_id=agent_id, waiting=new_status == "waiting"
            )
            event = await self._append_publish(
                tx,
                out,
                conversation_id,
                actor,
                kind="status",
                status=new_status,
                agent_id=agent_id,
                client_id=client_id,
            )
            after = await self._state(tx, conversation_id)
        assert after is not None  # noqa: S101
        update = encode(ConversationUpdate(conversation=after[1]))
        if new_status == "closed" and summary.agent_id:
            out.append((streams.agent(summary.agent_id), streams.revoke_envelope(conversation_id, update)))
        elif new_status == "assigned":
            out.append((streams.agent(actor.id), streams.grant_envelope(conversation_id, update)))
        out.append((streams.customer(summary.customer_id), streams.frame_envelope(update)))
        await self._publish(out)
        await self.publish_queue()
        if new_status in ("closed", "waiting"):
            await self.auto_assign()
        return Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)

    async def auto_assign(self) -> None:
        """Give waiting conversations, oldest first, to the least busy online agent under their cap."""
        if not self._settings.auto_assign:
            return
        ttl_ms = int(self._settings.presence_ttl * 1000)
        out: list[Publication] = []
        async with self._db.transaction() as tx:
            for _ in range(100):  # bounded: one transaction must not hold the write lock for long
                conversation_id = await ConversationStore.next_waiting(tx)
                if conversation_id is None:
                    break
                agent = await AgentStore.least_busy_online(tx, ttl_ms)
                if agent is None:
                    break
                await self._assign(tx, out, conversation_id, agent, None, by=None, client_id=None)
        if out:
            await self._publish(out)
            await self.publish_queue()

    async def publish_queue(self) -> None:
        waiting = await self._conversations.waiting()
        await self._broker.publish(streams.AGENTS, streams.frame_envelope(encode(Queue(waiting=waiting))))

    async def _assign(
        self,
        tx: aiosqlite.Connection,
        out: list[Publication],
        conversation_id: str,
        agent_id: str,
        previous_agent: str | None,
        *,
        by: Actor | None,
        client_id: str | None,
    ) -> Event:
        await ConversationStore.set_state(tx, conversation_id, status="assigned", agent_id=agent_id, waiting=False)
        fields: dict[str, Any] = {
            "kind": "assigned",
            "agent_id": agent_id,
            "status": "assigned",
            "client_id": client_id,
        }
        if by is None:
            event = await self._append(tx, conversation_id, author_type="system", **fields)
            out.append(self._event_publication(event, private=False))
        else:
            event = await self._append_publish(tx, out, conversation_id, by, **fields)
        state = await self._state(tx, conversation_id)
        assert state is not None  # noqa: S101
        update = encode(ConversationUpdate(conversation=state[1]))
        if previous_agent and previous_agent != agent_id:
            out.append((streams.agent(previous_agent), streams.revoke_envelope(conversation_id, update)))
        out.append((streams.agent(agent_id), streams.grant_envelope(conversation_id, update)))
        out.append((streams.customer(state[1].customer_id), streams.frame_envelope(update)))
        return event

    # -------------------------------------------------------------- plumbing

    def _checked_text(self, text: str, client_id: str) -> str:
        text = text.strip()
        if not text:
            raise Problem(ErrorCode.INVALID_FRAME, "message text is empty", client_id)
        if len(text) > self._settings.max_message_chars:
            raise Problem(
                ErrorCode.TOO_LONG, f"message is longer than {self._settings.max_message_chars} characters", client_id
            )
        return text

    async def _duplicate(self, actor: Actor, client_id: str) -> Ack | None:
        found = await self._conversations.by_client_id(actor.type, actor.id, client_id)
        if found is None:
            return None
        return Ack(client_id=client_id, conversation_id=found[0], seq=found[1], duplicate=True)

    async def _state(self, tx: aiosqlite.Connection, conversation_id: str) -> tuple[str, ConversationSummary] | None:
        summary = await ConversationStore.summary_in(tx, conversation_id)
        return (summary.status, summary) if summary else None

    async def _writable(self, tx: aiosqlite.Connection, actor: Actor, conversation_id: str, client_id: str) -> str:
        state = await self._state(tx, conversation_id)
        if state is None or not can_write(actor, state[1]):
            raise _not_found(conversation_id, client_id)
        return state[0]

    async def _append(self, tx: aiosqlite.Connection, conversation_id: str, **fields: Any) -> Event:
        return await ConversationStore.append(tx, conversation_id, **fields)

    async def _append_publish(
        self,
        tx: aiosqlite.Connection,
        out: list[Publication],
        conversation_id: str,
        actor: Actor,
        *,
        private: bool = False,
        **fields: Any,
    ) -> Event:
        event = await ConversationStore.append(
            tx,
            conversation_id,
            private=private,
            author_type=actor.type,
            author_id=actor.id,
            author_name=actor.name,
            **fields,
        )
        out.append(self._event_publication(event, private))
        return event

    @staticmethod
    def _event_publication(event: Event, private: bool) -> Publication:
        return (streams.conversation(event.conversation_id), streams.event_envelope(event.seq, private, encode(event)))

    async def _publish(self, publications: list[Publication]) -> None:
        for channel, data in publications:
            await self._broker.publish(channel, data)

    async def _announce_new(self, customer_id: str, conversation_id: str) -> None:
        summary = await self._conversations.get(conversation_id)
        if summary is None:
            return
        update = encode(ConversationUpdate(conversation=summary))
        await self._broker.publish(streams.customer(customer_id), streams.grant_envelope(conversation_id, update))
        await self.publish_queue()
        await self.auto_assign()
