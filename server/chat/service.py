"""Chat actions: each one validated, stored with its seq in one transaction, then published.

Nothing here touches a socket. Every action that stores an event follows the one rule: commit
first, then publish the hint, and return the acknowledgement the caller may send (the seq exists
in the store by then). The decisions (may this actor write here? is it still waiting?) are made
inside the write transaction, on the writer thread, so they cannot race with another process.
A resent action (same author, same client_id) finds its original event and is answered with the
original seq, marked duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from server import metrics, streams
from server.broker import Broker
from server.chat.access import Actor, can_read, can_write
from server.errors import Problem
from server.protocol import (
    Ack,
    Contact,
    ConversationSummary,
    ConversationUpdate,
    ErrorCode,
    Event,
    Queue,
    TypingNotice,
    encode,
)
from server.settings import Settings
from server.store.chat_writes import ChatWrite, ChatWrites
from server.store.conversations import ConversationStore

log = logging.getLogger("rapport.chat")

Publication = tuple[str, bytes]
_NO_ACK = Ack(client_id="", conversation_id="", seq=0)


def _not_found(conversation_id: str, client_id: str | None = None) -> Problem:
    return Problem(ErrorCode.NOT_FOUND, f"no conversation {conversation_id} for you", client_id)


class Outcome:
    """What a write transaction decided: the ack to send and the hints to publish after commit."""

    __slots__ = ("ack", "announce", "publications", "queue_changed")

    def __init__(self) -> None:
        self.ack: Ack | None = None
        self.publications: list[Publication] = []
        self.queue_changed = False
        # The customer to grant a conversation they opened or reopened, and its summary as the
        # transaction left it.
        self.announce: tuple[str, ConversationSummary] | None = None


class ChatService:
    def __init__(
        self,
        writes: ChatWrites,
        conversations: ConversationStore,
        broker: Broker,
        settings: Settings,
    ) -> None:
        self._writes = writes
        self._conversations = conversations
        self._broker = broker
        self._settings = settings

    # -------------------------------------------------------------- reading

    async def readable(self, actor: Actor, conversation_id: str) -> ConversationSummary:
        summary = await self._conversations.get(conversation_id)
        if summary is None or not can_read(actor, summary):
            raise _not_found(conversation_id)
        return summary

    async def transcript(
        self, actor: Actor, conversation_id: str, after: int, limit: int
    ) -> tuple[list[Event], int | None]:
        """A page of the events this actor may see, and the `after` of the next page (None: the end).

        Pages are cut on stored seqs, not on visible events: a page of a customer's transcript
        that held only private notes is empty but still says where to go on.
        """
        await self.readable(actor, conversation_id)
        stored = await self._conversations.events_after(conversation_id, after, limit + 1)
        more = len(stored) > limit
        stored = stored[:limit]
        sees_private = actor.type in ("agent", "shop")
        events = [s.event for s in stored if sees_private or not s.private]
        return events, stored[-1].event.seq if more and stored else None

    async def waiting(self) -> list[ConversationSummary]:
        """The queue, oldest first (every agent may see it)."""
        return await self._conversations.waiting()

    async def conversations_of(self, actor: Actor) -> list[ConversationSummary]:
        if actor.type == "customer":
            return await self._conversations.for_customer(actor.id)
        return await self._conversations.for_agent(actor.id)

    # -------------------------------------------------------------- messages

    async def send_message(
        self,
        actor: Actor,
        *,
        client_id: str,
        text: str,
        conversation_id: str | None = None,
        private: bool = False,
        address: str | None = None,
        contact: Contact | None = None,
    ) -> Ack:
        """`address`: the client's, for the limit on new conversations per address. `contact`:
        how a shopper asks to be answered (offline and pre-chat forms), kept on the conversation."""
        text = self._checked_text(text, client_id)
        if private and actor.type != "agent":
            raise Problem(ErrorCode.FORBIDDEN, "only agents write private notes", client_id)
        if contact is not None and actor.type != "customer":
            raise Problem(ErrorCode.FORBIDDEN, "only shoppers leave their contact", client_id)
        if conversation_id is None and actor.type != "customer":
            raise Problem(ErrorCode.INVALID_FRAME, "agents reply within a conversation: conversation_id", client_id)

        def work(w: ChatWrite) -> Outcome:
            out = Outcome()
            if self._duplicate(w, out, actor, client_id):
                return out
            opened = False
            target = conversation_id
            if target is None:
                self._may_open(w, actor, address, client_id)
                w.ensure_customer(actor.id)
                target = w.create_conversation(actor.id)
                opened = True
            else:
                status = self._writable(w, actor, target, client_id)
                if status == "closed" and actor.type == "customer":
                    # A shopper writing into a closed chat wants an answer: back to the queue.
                    w.set_state(target, status="waiting", agent_id=None, waiting=True)
                    reopened = w.append(target, kind="status", status="waiting", author_type="system")
                    out.publications.append(self._event_publication(reopened, private=False))
                    opened = True
            event = self._append(
                w,
                out,
                target,
                actor,
                kind="note" if private else "message",
                text=text,
                client_id=client_id,
                private=private,
            )
            if not private:
                w.set_preview(target, text)
            if contact is not None:
                w.set_contact(target, email=contact.email, name=contact.name, transcript=contact.transcript)
            out.ack = Ack(client_id=client_id, conversation_id=target, seq=event.seq)
            if opened:
                # A conversation just (re)entered the queue: assigned in this same transaction,
                # oldest waiting first as always, instead of in a second one after the commit.
                if self._settings.auto_assign:
                    self._assign_waiting(w, out)
                summary = w.summary(target)
                assert summary is not None  # noqa: S101 - written above in this transaction
                out.announce = (actor.id, summary)
            return out

        ack = await self._commit(work)
        if not ack.duplicate:
            metrics.MESSAGES_STORED.inc()
        return ack

    async def edit_message(self, actor: Actor, *, client_id: str, conversation_id: str, seq: int, text: str) -> Ack:
        text = self._checked_text(text, client_id)

        def work(w: ChatWrite) -> Outcome:
            out = Outcome()
            if self._duplicate(w, out, actor, client_id):
                return out
            self._writable(w, actor, conversation_id, client_id)
            original = w.event_origin(conversation_id, seq)
            if original is None or original.author_id != actor.id or original.author_type != actor.type:
                raise Problem(ErrorCode.NOT_FOUND, "no message of yours with that seq", client_id)
            if original.kind not in ("message", "note"):
                raise Problem(ErrorCode.INVALID_FRAME, "only messages and notes can be edited", client_id)
            event = self._append(
                w,
                out,
                conversation_id,
                actor,
                kind="edit",
                text=text,
                client_id=client_id,
                target_seq=seq,
                private=original.private,
            )
            out.ack = Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)
            return out

        return await self._commit(work)

    async def rate(
        self, actor: Actor, *, client_id: str, conversation_id: str, score: int, comment: str | None
    ) -> Ack:
        """The satisfaction survey after a chat: its customer, once, when it is closed. Kept on the
        conversation (reports, the agent's API) and as a `rating` event (the transcript)."""
        if actor.type != "customer":
            raise Problem(ErrorCode.FORBIDDEN, "only the shopper rates a conversation", client_id)
        comment = (comment or "").strip() or None

        def work(w: ChatWrite) -> Outcome:
            out = Outcome()
            if self._duplicate(w, out, actor, client_id):
                return out
            summary = w.summary(conversation_id)
            if summary is None or not can_write(actor, summary):
                raise _not_found(conversation_id, client_id)
            if summary.status != "closed":
                raise Problem(ErrorCode.CONFLICT, "a conversation is rated once it is closed", client_id)
            if summary.rating is not None:
                raise Problem(ErrorCode.CONFLICT, "this conversation was rated already", client_id)
            w.set_rating(conversation_id, score, comment)
            event = self._append(
                w, out, conversation_id, actor, kind="rating", score=score, text=comment, client_id=client_id
            )
            out.ack = Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)
            return out

        return await self._commit(work)

    async def mark_read(self, actor: Actor, conversation_id: str, seq: int) -> None:
        """Read receipts are stored events too, so an agent who reconnects sees them; only advances."""

        def work(w: ChatWrite) -> Outcome:
            out = Outcome()
            summary = w.summary(conversation_id)
            if summary is None or not can_read(actor, summary):
                raise _not_found(conversation_id)
            upto = min(seq, summary.last_seq)
            if upto > w.last_read(conversation_id, actor.type):
                self._append(w, out, conversation_id, actor, kind="read", target_seq=upto)
            return out

        await self._commit(work)

    async def typing(self, actor: Actor, conversation_id: str, active: bool) -> None:
        """Ephemeral: not stored, no seq, may be lost. The caller already checked that the actor
        follows it; an agent must also be the one answering (not one looking at the queue)."""
        if actor.type == "agent":
            summary = await self._conversations.get(conversation_id)
            if summary is None or not can_write(actor, summary):
                raise _not_found(conversation_id)
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

        def work(w: ChatWrite) -> Outcome:
            out = Outcome()
            if self._duplicate(w, out, actor, client_id):
                return out
            summary = w.summary(conversation_id)
            if summary is None:
                raise _not_found(conversation_id, client_id)
            # Every agent saw it in the queue, so saying it was taken reveals nothing new.
            if summary.status != "waiting" and not actor.is_admin:
                raise Problem(ErrorCode.CONFLICT, "this conversation is no longer waiting", client_id)
            event = self._assign(w, out, conversation_id, actor.id, summary.agent_id, by=actor, client_id=client_id)
            out.ack = Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)
            return out

        return await self._commit(work)

    async def transfer(
        self, actor: Actor, *, client_id: str, conversation_id: str, agent_id: str, note: str | None = None
    ) -> Ack:
        """Hand a conversation to another agent; a handover `note` is stored as a private note
        (agents only) in the same transaction, just before the assignment, so the new agent reads
        it first when the conversation is granted to them."""
        handover = self._checked_text(note, client_id) if note and note.strip() else None

        def work(w: ChatWrite) -> Outcome:
            out = Outcome()
            if self._duplicate(w, out, actor, client_id):
                return out
            if not w.agent_answers_chats(agent_id):
                raise Problem(ErrorCode.NOT_FOUND, "no such agent to transfer to", client_id)
            status = self._writable(w, actor, conversation_id, client_id)
            if status == "closed":
                raise Problem(ErrorCode.CONFLICT, "reopen the conversation before transferring it", client_id)
            summary = w.summary(conversation_id)
            assert summary is not None  # noqa: S101 - _writable just found it in this transaction
            if handover is not None:
                self._append(w, out, conversation_id, actor, kind="note", text=handover, private=True)
            event = self._assign(w, out, conversation_id, agent_id, summary.agent_id, by=actor, client_id=client_id)
            out.ack = Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)
            return out

        return await self._commit(work)

    async def close(self, actor: Actor, *, client_id: str, conversation_id: str) -> Ack:
        return await self._set_status(actor, client_id, conversation_id, "closed")

    async def reopen(self, actor: Actor, *, client_id: str, conversation_id: str) -> Ack:
        return await self._set_status(actor, client_id, conversation_id, "open")

    async def _set_status(self, actor: Actor, client_id: str, conversation_id: str, target: str) -> Ack:
        def work(w: ChatWrite) -> Outcome:
            out = Outcome()
            if self._duplicate(w, out, actor, client_id):
                return out
            summary = w.summary(conversation_id)
            if summary is None:
                raise _not_found(conversation_id, client_id)
            # Reopening a closed chat is allowed to whoever could read it when it was open.
            allowed = can_write(actor, summary) or (
                target == "open" and actor.type == "agent" and (actor.is_admin or summary.agent_id == actor.id)
            )
            if not allowed:
                raise _not_found(conversation_id, client_id)
            if target == "closed":
                if summary.status == "closed":
                    raise Problem(ErrorCode.CONFLICT, "already closed", client_id)
                new_status, agent_id = "closed", summary.agent_id
            else:
                if summary.status != "closed":
                    raise Problem(ErrorCode.CONFLICT, "not closed", client_id)
                # An agent reopening keeps it; a customer reopening goes back to the queue.
                new_status, agent_id = ("assigned", actor.id) if actor.type == "agent" else ("waiting", None)
            w.set_state(conversation_id, status=new_status, agent_id=agent_id, waiting=new_status == "waiting")
            event = self._append(
                w,
                out,
                conversation_id,
                actor,
                kind="status",
                status=new_status,
                agent_id=agent_id,
                client_id=client_id,
            )
            after = w.summary(conversation_id)
            assert after is not None  # noqa: S101
            update = encode(ConversationUpdate(conversation=after))
            if new_status == "closed" and summary.agent_id:
                out.publications.append(
                    (streams.agent(summary.agent_id), streams.revoke_envelope(conversation_id, update))
                )
            elif new_status == "assigned":
                out.publications.append((streams.agent(actor.id), streams.grant_envelope(conversation_id, update)))
            out.publications.append((streams.customer(summary.customer_id), streams.frame_envelope(update)))
            out.queue_changed = True
            out.ack = Ack(client_id=client_id, conversation_id=conversation_id, seq=event.seq)
            return out

        ack = await self._commit(work)
        await self.auto_assign()
        return ack

    async def auto_assign(self) -> None:
        """Give waiting conversations, oldest first, to the least busy online agent under their cap."""
        if not self._settings.auto_assign:
            return

        def work(w: ChatWrite) -> Outcome:
            out = Outcome()
            self._assign_waiting(w, out)
            return out

        await self._commit(work)

    def _assign_waiting(self, w: ChatWrite, out: Outcome) -> None:
        ttl_ms = int(self._settings.presence_ttl * 1000)
        for _ in range(100):  # bounded: one transaction must not hold the write lock for long
            conversation_id = w.next_waiting()
            if conversation_id is None:
                break
            agent = w.least_busy_online(ttl_ms)
            if agent is None:
                break
            self._assign(w, out, conversation_id, agent, None, by=None, client_id=None)

    async def publish_queue(self) -> None:
        waiting = await self._conversations.waiting()
        metrics.WAITING_CONVERSATIONS.set(len(waiting))
        await self._broker.publish(streams.AGENTS, streams.frame_envelope(encode(Queue(waiting=waiting))))

    # -------------------------------------------------------------- plumbing (writer thread)

    def _assign(
        self,
        w: ChatWrite,
        out: Outcome,
        conversation_id: str,
        agent_id: str,
        previous_agent: str | None,
        *,
        by: Actor | None,
        client_id: str | None,
    ) -> Event:
        w.set_state(conversation_id, status="assigned", agent_id=agent_id, waiting=False)
        fields: dict[str, Any] = {
            "kind": "assigned",
            "agent_id": agent_id,
            # Who takes over, by name: the shopper's widget says who joined (after a transfer the
            # author is the agent who handed it over).
            "agent_name": w.agent_name(agent_id),
            "status": "assigned",
            "client_id": client_id,
        }
        if by is None:
            event = w.append(conversation_id, author_type="system", **fields)
            out.publications.append(self._event_publication(event, private=False))
        else:
            event = self._append(w, out, conversation_id, by, **fields)
        summary = w.summary(conversation_id)
        assert summary is not None  # noqa: S101
        update = encode(ConversationUpdate(conversation=summary))
        # Everyone following it who may no longer read it (the previous assignee, an agent who
        # looked at it while it waited) leaves it, on every process; then the new one joins.
        out.publications.append((streams.conversation(conversation_id), streams.access_envelope(update)))
        if previous_agent and previous_agent != agent_id:
            # Their console learns it changed hands (an admin keeps reading it, an agent left it above).
            out.publications.append((streams.agent(previous_agent), streams.frame_envelope(update)))
        out.publications.append((streams.agent(agent_id), streams.grant_envelope(conversation_id, update)))
        out.publications.append((streams.customer(summary.customer_id), streams.frame_envelope(update)))
        out.queue_changed = True
        return event

    def _may_open(self, w: ChatWrite, actor: Actor, address: str | None, client_id: str) -> None:
        """Limits on new conversations, decided in the transaction that would open one: a flood
        of chats (one socket or many, one process or several) must not bury real shoppers."""
        s = self._settings
        if w.open_count(actor.id) >= s.max_open_conversations:
            raise Problem(
                ErrorCode.RATE_LIMITED, "you have conversations open already: write in one of them", client_id
            )
        limits = [
            (f"conversation:visitor:{actor.id}", s.new_conversations_per_visitor, 3_600_000),
            ("conversation:shop", s.new_conversations_per_minute, 60_000),
        ]
        if address:
            limits.append((f"conversation:address:{address}", s.new_conversations_per_address, 600_000))
        hit = w.limited(limits)
        if hit == "conversation:shop":
            raise Problem(ErrorCode.UNAVAILABLE, "we are very busy right now: please try again in a minute", client_id)
        if hit is not None:
            raise Problem(ErrorCode.RATE_LIMITED, "too many new conversations; please wait a while", client_id)

    def _checked_text(self, text: str, client_id: str) -> str:
        text = text.strip()
        if not text:
            raise Problem(ErrorCode.INVALID_FRAME, "message text is empty", client_id)
        if len(text) > self._settings.max_message_chars:
            raise Problem(
                ErrorCode.TOO_LONG, f"message is longer than {self._settings.max_message_chars} characters", client_id
            )
        return text

    @staticmethod
    def _duplicate(w: ChatWrite, out: Outcome, actor: Actor, client_id: str) -> bool:
        found = w.by_client_id(actor.type, actor.id, client_id)
        if found is None:
            return False
        out.ack = Ack(client_id=client_id, conversation_id=found[0], seq=found[1], duplicate=True)
        return True

    @staticmethod
    def _writable(w: ChatWrite, actor: Actor, conversation_id: str, client_id: str) -> str:
        summary = w.summary(conversation_id)
        if summary is None or not can_write(actor, summary):
            raise _not_found(conversation_id, client_id)
        return summary.status

    def _append(
        self, w: ChatWrite, out: Outcome, conversation_id: str, actor: Actor, *, private: bool = False, **fields: Any
    ) -> Event:
        event = w.append(
            conversation_id,
            private=private,
            author_type=actor.type,
            author_id=actor.id,
            author_name=actor.name,
            **fields,
        )
        out.publications.append(self._event_publication(event, private))
        return event

    @staticmethod
    def _event_publication(event: Event, private: bool) -> Publication:
        return (streams.conversation(event.conversation_id), streams.event_envelope(event.seq, private, encode(event)))

    # -------------------------------------------------------------- after the commit (event loop)

    async def _commit(self, work: Callable[[ChatWrite], Outcome]) -> Ack:
        """Run `work` in a write transaction, then publish what it decided; its ack."""
        outcome = await self._writes.run(work)
        if outcome.publications:
            await self._broker.publish_many(outcome.publications)
        if outcome.announce is not None:
            customer_id, summary = outcome.announce
            update = encode(ConversationUpdate(conversation=summary))
            await self._broker.publish(streams.customer(customer_id), streams.grant_envelope(summary.id, update))
            outcome.queue_changed = True
        if outcome.queue_changed:
            await self.publish_queue()
        # Actions without an acknowledgement (reads, auto-assignment) return a placeholder nobody sends.
        return outcome.ack or _NO_ACK
