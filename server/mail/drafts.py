"""What each kind of mail says and whom it threads with, decided from the store's facts.

Pure functions (no I/O): the stores run them inside the write transaction that queues the mail
(store/conversation_mail.py, store/mail_fallback.py), so they must not raise, block or await.
A mail to an address we do not send to is still queued: the sender sets it aside as a dead
letter with the reason, where admins see it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.mail.addresses import is_address
from server.mail.links import MailLinks
from server.mail.message import message_ids, new_message_id
from server.mail.templates import safe_url
from server.mail.tokens import ReplyAddresses
from server.store.conversation_mail import AgentAddress, ChatLine, ReplyThread, TranscriptDue, WaitingMessage
from server.store.mail_fallback import CampaignCopy, UnseenNotification
from server.store.mail_queue import NewMail

# The first line of every mail a customer may answer: what is above it in their answer is new.
REPLY_MARKER = "## Write your reply above this line ##"
_MAX_QUOTED = 4000


def _when(at_ms: int) -> str:
    return dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _waited(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes < 120 else f"{round(minutes / 60)} hours"


class Drafts:
    def __init__(self, links: MailLinks, replies: ReplyAddresses, sender_domain: str) -> None:
        self._links = links
        self._replies = replies
        self._domain = sender_domain

    def _threaded(self, refs: str) -> dict[str, Any]:
        thread = message_ids(refs)
        return {"in_reply_to": thread[-1] if thread else None, "refs": " ".join(thread) or None}

    def offline_reply(self, thread: ReplyThread, unread: list[ChatLine]) -> NewMail:
        context = {
            "customer_name": thread.customer_name,
            "replies": [{"author_name": r.author_name, "text": r.text[:_MAX_QUOTED]} for r in unread],
            "chat_url": self._links.chat(thread.conversation_id),
            "reply_marker": REPLY_MARKER,
            "reply_to": self._replies.address(thread.conversation_id, thread.customer_id),
        }
        return NewMail(
            kind="offline_reply",
            marketing=False,
            recipient=thread.address.strip(),
            recipient_name=thread.customer_name,
            customer_id=thread.customer_id,
            conversation_id=thread.conversation_id,
            context=context,
            message_id=new_message_id(self._domain),
            dedupe_key=f"reply:{thread.conversation_id}:{unread[-1].seq}",
            **self._threaded(thread.thread_refs),
        )

    def transcript(self, due: TranscriptDue, lines: list[ChatLine]) -> NewMail | None:
        if not lines:
            return None
        context = {
            "customer_name": due.customer_name,
            "lines": [
                {
                    "when": _when(line.at),
                    "who": "You" if line.author_type == "customer" else (line.author_name or "Our team"),
                    "text": line.text[:_MAX_QUOTED],
                }
                for line in lines
            ],
            "reply_to": self._replies.address(due.conversation_id, due.customer_id),
        }
        return NewMail(
            kind="transcript",
            marketing=False,
            recipient=due.address.strip(),
            recipient_name=due.customer_name,
            customer_id=due.customer_id,
            conversation_id=due.conversation_id,
            context=context,
            message_id=new_message_id(self._domain),
            dedupe_key=f"transcript:{due.conversation_id}:{due.last_seq}",
            **self._threaded(due.thread_refs),
        )

    def agent_alerts(self, waiting: WaitingMessage, agents: list[AgentAddress], now_ms: int) -> list[NewMail]:
        return [
            NewMail(
                kind="agent_alert",
                marketing=False,
                recipient=agent.email,
                recipient_name=agent.name,
                agent_id=agent.id,
                conversation_id=waiting.conversation_id,
                context={
                    "agent_name": agent.name,
                    "customer_name": waiting.customer_name,
                    "text": waiting.text[:1000],
                    "waited": _waited((now_ms - waiting.at) / 1000),
                    "console_url": self._links.console(waiting.conversation_id),
                },
                message_id=new_message_id(self._domain),
                dedupe_key=f"alert:{waiting.conversation_id}:{waiting.seq}:{agent.id}",
            )
            for agent in agents
            if is_address(agent.email)
        ]

    def unseen(self, n: UnseenNotification) -> NewMail:
        return NewMail(
            kind="notification",
            marketing=False,
            recipient=n.email.strip(),
            recipient_name=n.name,
            customer_id=n.customer_id,
            context={
                "customer_name": n.name,
                "title": n.title,
                "body": n.body,
                "url": safe_url(n.url),
                "voucher_code": None,
                "expires_on": None,
            },
            message_id=new_message_id(self._domain),
            dedupe_key=f"notification:{n.customer_id}:{n.seq}",
        )

    def campaign(self, campaign_id: str, copy: CampaignCopy) -> NewMail:
        return NewMail(
            kind="notification",
            marketing=True,
            recipient=copy.email.strip(),
            recipient_name=copy.name,
            customer_id=copy.customer_id,
            context={
                "customer_name": copy.name,
                "title": copy.title,
                "body": copy.body,
                "url": safe_url(copy.url),
                "voucher_code": copy.voucher_code,
                "expires_on": _when(copy.expires_at)[:10] if copy.expires_at else None,
            },
            message_id=new_message_id(self._domain),
            dedupe_key=f"campaign:{campaign_id}:{copy.customer_id}",
        )
