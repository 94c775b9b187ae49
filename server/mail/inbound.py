"""Customers' e-mail replies landing in their conversation, as their message.

Whatever brought the mail (the SMTP listener, the HTTP endpoint providers post to), it is taken
here: the reply address must be one we signed for that conversation and its customer, and not
too old, or the mail is refused and nothing is stored. The new text (quoted history cut,
mail/reply_text.py) is stored as the customer's message through the chat service, exactly like
a message from the widget: agents see it live, a closed conversation reopens. Its Message-ID is
the message's client id, so the same mail delivered twice is stored once, and it joins the
thread, so the next mail answers it. Automatic replies (out of office, bounces) are dropped.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Literal, NamedTuple

from server.chat.access import Actor
from server.chat.service import ChatService
from server.errors import Problem
from server.mail.message import message_ids
from server.mail.reply_text import new_text
from server.mail.tokens import ReplyAddresses
from server.protocol import ErrorCode
from server.settings import Settings
from server.store.conversation_mail import ConversationMailStore

log = logging.getLogger("rapport.mail")

_PARSE_POLICY = email.policy.default


class Received(NamedTuple):
    """`stored` (as `seq` of `conversation_id`), `ignored` (an automatic reply, no new text), or
    `refused` (no valid reply address: nothing stored)."""

    outcome: Literal["stored", "ignored", "refused"]
    reason: str
    conversation_id: str | None = None
    seq: int | None = None


def _automatic(message: EmailMessage) -> bool:
    auto = str(message.get("auto-submitted", "no")).strip().lower()
    precedence = str(message.get("precedence", "")).strip().lower()
    return (
        auto != "no"
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or "x-autoreply" in message
        or "x-autorespond" in message
        or message.get_content_type() == "multipart/report"
    )


class InboundMail:
    def __init__(
        self, store: ConversationMailStore, chat: ChatService, replies: ReplyAddresses, settings: Settings
    ) -> None:
        self._store = store
        self._chat = chat
        self._replies = replies
        self._settings = settings

    def ours(self, address: str) -> bool:
        """Whether an address is shaped like one of our reply addresses (checked fully later)."""
        return self._replies.parse(address) is not None

    async def receive(self, raw: bytes, recipients: Sequence[str] = ()) -> Received:
        """A raw MIME message and its envelope recipients (when known; else its headers say)."""
        try:
            message = email.message_from_bytes(raw, policy=_PARSE_POLICY)
        except Exception:  # the parser is lenient; anything it still cannot take is not a reply
            return Received("refused", "not a MIME message")
        assert isinstance(message, EmailMessage)  # noqa: S101 - the default policy makes these
        candidates = list(recipients)
        for header in ("to", "cc", "delivered-to", "x-original-to"):
            for value in message.get_all(header, []):
                candidates += [a.addr_spec for a in getattr(value, "addresses", ())]
        conversation_id = customer_id = None
        for address in candidates:
            parsed = self._replies.parse(address)
            if parsed is None:
                continue
            token, signature = parsed
            thread = await self._store.thread(token.conversation_id)
            if thread is not None and self._replies.verify(token, signature, thread.customer_id):
                conversation_id, customer_id = thread.conversation_id, thread.customer_id
                break
        if conversation_id is None or customer_id is None:
            log.info("inbound mail refused: no valid reply address")
            return Received("refused", "no valid reply address: forged, stale or not ours")
        if _automatic(message):
            return Received("ignored", "an automatic reply", conversation_id)
        text = new_text(message)
        if not text:
            return Received("ignored", "no new text above the quoted mail", conversation_id)
        limit = self._settings.max_message_chars
        if len(text) > limit:
            text = text[: limit - 1].rstrip() + "…"
        ids = message_ids(str(message.get("message-id", "")))
        # The same mail delivered twice (a retrying relay, the listener and the endpoint) is one message.
        identity = ids[0] if ids else hashlib.sha256(raw).hexdigest()
        client_id = "mail:" + hashlib.sha256(identity.encode()).hexdigest()[:40]
        try:
            ack = await self._chat.send_message(
                Actor(type="customer", id=customer_id), client_id=client_id, text=text, conversation_id=conversation_id
            )
        except Problem as exc:
            if exc.code in (ErrorCode.UNAVAILABLE, ErrorCode.RATE_LIMITED):
                raise
            return Received("refused", exc.message, conversation_id)
        if ids:
            await self._store.add_to_thread(conversation_id, ids[0])
        return Received("stored", "stored as the customer's message", conversation_id, ack.seq)
