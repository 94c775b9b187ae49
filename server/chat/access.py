"""Who is acting, and which conversations they may read or write."""

from __future__ import annotations

from typing import Literal

import msgspec

from server.protocol import ConversationSummary, ConversationUpdate

_update = msgspec.json.Decoder(ConversationUpdate)


class Actor(msgspec.Struct, frozen=True):
    """A customer, an agent (any role), or the shop's back end calling with an API key."""

    type: Literal["customer", "agent", "shop"]
    id: str
    name: str | None = None
    role: str | None = None  # agents only: agent, marketer, admin

    @property
    def is_admin(self) -> bool:
        return self.type == "agent" and self.role == "admin"

    @property
    def answers_chats(self) -> bool:
        return self.type == "agent" and self.role in ("agent", "admin")


def can_read(actor: Actor, conversation: ConversationSummary) -> bool:
    """Customers: their own. Agents: theirs and the waiting queue. Admins and the shop (a key with
    the conversations scope): all. Marketers: none."""
    if actor.type == "shop":
        return True
    if actor.type == "customer":
        return conversation.customer_id == actor.id
    if actor.is_admin:
        return True
    return actor.answers_chats and (conversation.agent_id == actor.id or conversation.status == "waiting")


def can_write(actor: Actor, conversation: ConversationSummary) -> bool:
    if actor.type == "shop":
        return False
    if actor.type == "customer":
        return conversation.customer_id == actor.id
    if actor.is_admin:
        return True
    return actor.answers_chats and conversation.agent_id == actor.id


def can_read_history(actor: Actor, conversation: ConversationSummary, *, holds_customer: bool) -> bool:
    """Reading a transcript back (REST, read-only): what can_read allows, and for an agent who is
    answering a customer now (`holds_customer`), that customer's closed conversations: knowing
    what was said before is part of answering them. Open conversations of other agents stay
    theirs, and a closed one of a customer nobody asks you about stays out of reach."""
    if can_read(actor, conversation):
        return True
    return actor.answers_chats and conversation.status == "closed" and holds_customer


def may_follow(actor: Actor, update_frame: str) -> bool:
    """After an access change, given the conversation's new summary (a `conversation` frame)."""
    try:
        summary = _update.decode(update_frame).conversation
    except msgspec.DecodeError:
        return False  # not ours to read: leave rather than keep a stream nobody vouched for
    return can_read(actor, summary)
