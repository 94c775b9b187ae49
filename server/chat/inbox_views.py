"""The console's inbox views (Waiting, Mine, All open, Closed) and a conversation's history read back.

Each view is what its reader may see: an agent lists the whole team's open conversations, with
who has each, but reads only the waiting ones and their own (the others come without their
preview); Closed is an agent's own closed conversations, or everyone's for an admin. History is
read backwards in pages of stored events, under `can_read_history` (chat/access.py).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from server.chat.access import Actor, can_read, can_read_history
from server.errors import Problem
from server.protocol import ConversationSummary, ErrorCode, Event
from server.store.conversations import ConversationStore

View = Literal["waiting", "mine", "open", "closed"]
VIEWS: tuple[View, ...] = ("waiting", "mine", "open", "closed")


class InboxPage(msgspec.Struct):
    view: View
    conversations: list[ConversationSummary]
    # Closed only: pass as `before` for the next page; null at the end.
    next_before: str | None = None


class History(msgspec.Struct):
    conversation: ConversationSummary
    # In seq order, the page just before `before` (agents see private notes).
    events: list[Event]
    # Pass as `before` for the page before this one; null when this page reached the start.
    next_before: int | None
    # Whether the reader may write in it (their own, or an admin): otherwise it is read-only.
    writable: bool


def _cursor(summary: ConversationSummary, updated_at: int) -> str:
    return f"{updated_at}:{summary.id}"


def _parse_cursor(before: str) -> tuple[int, str]:
    at, sep, conversation_id = before.partition(":")
    if not sep or not at.isdigit() or not conversation_id:
        raise Problem(ErrorCode.INVALID_REQUEST, "`before` is a cursor from the previous page")
    return int(at), conversation_id


class InboxViews:
    def __init__(self, conversations: ConversationStore) -> None:
        self._conversations = conversations

    async def view(self, actor: Actor, view: View, *, before: str | None, limit: int) -> InboxPage:
        if not actor.answers_chats:
            raise Problem(ErrorCode.FORBIDDEN, "the inbox is for agents and admins")
        if view == "waiting":
            return InboxPage(view, await self._conversations.waiting(limit))
        if view == "mine":
            return InboxPage(view, (await self._conversations.for_agent(actor.id))[:limit])
        if view == "open":
            listed = await self._conversations.open_ones(limit)
            return InboxPage(view, [c if can_read(actor, c) else _without_text(c) for c in listed])
        keyset = _parse_cursor(before) if before else None
        owner = None if actor.is_admin else actor.id
        page = await self._conversations.closed(owner, keyset, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        next_before = None
        if more and page:
            updated_at = await self._conversations.updated_at(page[-1].id)
            next_before = _cursor(page[-1], updated_at or 0)
        return InboxPage(view, page, next_before)

    async def readable_history(self, actor: Actor, conversation_id: str) -> ConversationSummary:
        """The conversation, if this actor may read its history; else not_found (no probing)."""
        summary = await self._conversations.get(conversation_id)
        if summary is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no conversation {conversation_id} for you")
        holds = (
            actor.answers_chats
            and not can_read(actor, summary)
            and await self._conversations.holds_customer(actor.id, summary.customer_id)
        )
        if not can_read_history(actor, summary, holds_customer=holds):
            raise Problem(ErrorCode.NOT_FOUND, f"no conversation {conversation_id} for you")
        return summary

    async def history(self, actor: Actor, conversation_id: str, *, before: int | None, limit: int) -> History:
        """The `limit` events before seq `before` (None: the latest), oldest first."""
        summary = await self.readable_history(actor, conversation_id)
        upto = summary.last_seq + 1 if before is None else before
        stored = await self._conversations.events_before(conversation_id, upto, limit)
        first = stored[0].event.seq if stored else upto
        writable = actor.is_admin or (summary.agent_id == actor.id and summary.status != "closed")
        return History(
            conversation=summary,
            events=[s.event for s in stored],
            next_before=first if first > 1 else None,
            writable=writable,
        )


def _without_text(summary: ConversationSummary) -> ConversationSummary:
    """Another agent's conversation in a list: who and when, not what was said."""
    return msgspec.structs.replace(summary, preview=None)
