"""The e-mail parts of one process, wired in one place: stores, the sender, jobs, inbound mail."""

from __future__ import annotations

import time

from server.chat.service import ChatService
from server.hub import LocalDelivery
from server.mail.agent_alerts import AgentAlerts
from server.mail.drafts import Drafts
from server.mail.fallback import PushFallback
from server.mail.inbound import InboundMail
from server.mail.links import MailLinks
from server.mail.listener import ReplyListener
from server.mail.offline_replies import OfflineReplies
from server.mail.queue import MailQueue
from server.mail.seen import CustomerSeen
from server.mail.sender import MailSender
from server.mail.templates import MailTemplates
from server.mail.tokens import ReplyAddresses, UnsubscribeTokens
from server.mail.transcripts import Transcripts
from server.mail.transport import create_transport
from server.mail.unsubscribe import Unsubscribe
from server.push.broadcast import Broadcaster
from server.push.campaigns import CampaignService
from server.push.scheduler import Job, Scheduler
from server.push.segments import SegmentService
from server.settings import Settings
from server.store.conversation_mail import ConversationMailStore
from server.store.customers import CustomerAttributesStore
from server.store.db import Database
from server.store.mail_fallback import MailFallbackStore
from server.store.mail_queue import MailQueueStore


def _at_most_every(seconds: float, job: Job) -> Job:
    """`job`, skipped when it ran less than `seconds` ago (on this process)."""
    last = -float("inf")

    async def run() -> object:
        nonlocal last
        now = time.monotonic()
        if now - last < seconds:
            return None
        last = now
        return await job()

    return run


class MailChannel:
    """Made by Node; `open` once the secrets and the other services exist."""

    def __init__(self, db: Database, settings: Settings, process_id: str) -> None:
        self.settings = settings
        self._queue_store = MailQueueStore(db)
        self._conversations = ConversationMailStore(db)
        self._fallback_store = MailFallbackStore(db)
        self._customers = CustomerAttributesStore(db)
        self._process_id = process_id
        self.templates = MailTemplates(settings)
        self.transport = create_transport(settings)
        self.listener: ReplyListener | None = None
        self.queue = MailQueue(self._queue_store, self._wake)
        self.sender: MailSender
        self.transcripts: Transcripts
        self.inbound: InboundMail
        self.unsubscribe: Unsubscribe
        self.replies: ReplyAddresses
        self._seen: CustomerSeen

    def _wake(self) -> None:
        self.sender.wake()

    def open(
        self,
        secret_keys: list[str],
        *,
        chat: ChatService,
        campaigns: CampaignService,
        broadcast: Broadcaster,
        segments: SegmentService,
        local: LocalDelivery,
        scheduler: Scheduler,
    ) -> None:
        s = self.settings
        unsubscribe_tokens = UnsubscribeTokens(secret_keys)
        links = MailLinks(s, unsubscribe_tokens)
        self.replies = ReplyAddresses(secret_keys, s.mail_reply_domain, s.mail_reply_token_max_age)
        drafts = Drafts(links, self.replies, s.mail_from.rpartition("@")[2] or "localhost")
        self.sender = MailSender(self._queue_store, self.transport, self.templates, links, s, self._process_id)
        self.transcripts = Transcripts(self._conversations, chat, drafts, self._wake)
        self.inbound = InboundMail(self._conversations, chat, self.replies, s)
        self.unsubscribe = Unsubscribe(unsubscribe_tokens, self._customers)
        # Stamped often enough that a customer still here never looks gone for the offline delay.
        self._seen = CustomerSeen(self._conversations, local, min(30.0, s.mail_offline_reply_delay / 4))
        offline = OfflineReplies(self._conversations, drafts, s, self._wake)
        alerts = AgentAlerts(self._conversations, drafts, s, self._wake)
        fallback = PushFallback(self._fallback_store, drafts, campaigns, broadcast, segments, s, self._wake)
        # The delays are minutes by default: looking every few seconds is plenty, and spares the
        # store a read per job at every tick of the scheduler.
        delays = (
            s.mail_offline_reply_delay,
            s.mail_reply_batch_window,
            s.mail_agent_alert_delay,
            s.mail_order_unseen_delay,
            s.mail_reminder_unseen_delay,
        )
        every = min(5.0, min(delays) / 2)
        for name, job in (
            ("offline replies", offline.run),
            ("agent alerts", alerts.run),
            ("transcripts", self.transcripts.run),
            ("unseen order updates", fallback.orders),
            ("unseen reminders", fallback.reminders),
            ("campaign fallback", fallback.campaigns),
        ):
            scheduler.add(f"mail: {name}", _at_most_every(every, job))
        if s.mail_inbound:
            self.listener = ReplyListener(self.inbound, s.mail_inbound_host, s.mail_inbound_port)

    async def start(self) -> None:
        self._seen.start()
        self.sender.start()
        if self.listener is not None:
            await self.listener.start()

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        await self.sender.stop()
        await self._seen.stop()
