"""Canned replies: admins write them (title, shortcut, body), agents insert them with '/'.

A body is a template with the campaigns' placeholders (push/templates.py: Jinja2's sandbox,
bounded), of which a reply offers `customer`: `Hi {{ customer.first_name }}`. It is checked when
saved and rendered for the conversation's customer when an agent picks it; the agent sees the
text in the composer before sending it, as their own message.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec

from server.chat.access import Actor
from server.errors import Problem
from server.protocol import ConversationSummary, ErrorCode
from server.push import templates
from server.store.canned_replies import CannedReply, CannedReplyStore
from server.store.customers import CustomerAttributesStore, CustomerDetails
from server.store.db import Duplicate

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Shortcut = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
ALLOWED = frozenset({"customer"})
ALLOWED_NOTE = "use customer, e.g. {{ customer.first_name }}"

__all__ = ["CannedReplies", "CannedReplyChange", "CannedReplyIn", "CannedReplyOut", "Rendered"]


class CannedReplyIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Title
    shortcut: Shortcut
    body: Body


class CannedReplyChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    title: Title | None = None
    shortcut: Shortcut | None = None
    body: Body | None = None


class CannedReplyOut(msgspec.Struct):
    id: str
    title: str
    shortcut: str
    body: str
    created_at: int
    updated_at: int


class Rendered(msgspec.Struct):
    """A reply's text for one conversation's customer, ready to edit and send."""

    text: str


def _out(reply: CannedReply) -> CannedReplyOut:
    return CannedReplyOut(
        id=reply.id,
        title=reply.title,
        shortcut=reply.shortcut,
        body=reply.body,
        created_at=reply.created_at,
        updated_at=reply.updated_at,
    )


def _nobody(customer_id: str) -> CustomerDetails:
    """A customer the store has no details of: every placeholder renders empty."""
    return CustomerDetails(
        id=customer_id, external_id=None, name=None, email=None, loyalty_points=0, tier=None, birthday=None,
        last_order_at=None, total_spent=0.0, tags=[], marketing_consent=False, timezone="UTC", locale=None,
        attributes={}, created_at=0,
    )  # fmt: skip


class CannedReplies:
    def __init__(self, store: CannedReplyStore, customers: CustomerAttributesStore) -> None:
        self._store = store
        self._customers = customers

    async def everyone(self) -> list[CannedReplyOut]:
        return [_out(r) for r in await self._store.everyone()]

    async def create(self, actor: Actor, body: CannedReplyIn) -> CannedReplyOut:
        await self._checked(body.body)
        try:
            created = await self._store.create(
                title=body.title.strip(), shortcut=body.shortcut, body=body.body, created_by=actor.id
            )
        except Duplicate:
            raise Problem(ErrorCode.CONFLICT, f"the shortcut /{body.shortcut} is taken") from None
        return _out(created)

    async def change(self, reply_id: str, change: CannedReplyChange) -> CannedReplyOut:
        fields = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not None}
        if "body" in fields:
            await self._checked(fields["body"])
        try:
            changed = await self._store.update(reply_id, fields) if fields else await self._store.get(reply_id)
        except Duplicate:
            raise Problem(ErrorCode.CONFLICT, f"the shortcut /{fields.get('shortcut')} is taken") from None
        if changed is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no canned reply {reply_id}")
        return _out(changed)

    async def delete(self, reply_id: str) -> None:
        if not await self._store.delete(reply_id):
            raise Problem(ErrorCode.NOT_FOUND, f"no canned reply {reply_id}")

    async def render(self, reply_id: str, conversation: ConversationSummary) -> Rendered:
        """The reply for this conversation's customer (the caller checked the agent may read it)."""
        reply = await self._store.get(reply_id)
        if reply is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no canned reply {reply_id}")
        found = await self._customers.by_ids([conversation.customer_id])
        customer = found[0] if found else _nobody(conversation.customer_id)
        context = templates.context_of(customer, voucher=None, campaign={})
        # Bounded (steps, 50 ms, size), but not free: off the event loop, as checks are.
        text = await asyncio.to_thread(templates.render, reply.body, context, field="body")
        return Rendered(text=text)

    @staticmethod
    async def _checked(body: str) -> None:
        await templates.check(body, field="body", with_voucher=False, allowed=ALLOWED, allowed_note=ALLOWED_NOTE)
