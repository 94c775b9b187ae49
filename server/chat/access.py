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


def may_follow(actor: Actor, update_frame: str) -> bool:
    """After an access change, given the conversation's new summary (a `conversation` frame)."""
    try:
        summary = _update.decode(update_frame).conversation
    except msgspec.DecodeError:
        return False  # not ours to read: leave rather than keep a stream nobody vouched for
    return can_read(actor, summary)
