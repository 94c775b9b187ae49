"""The running parts of one server process, wired together in one visible place."""

from __future__ import annotations

import asyncio
import logging
import secrets

from server import metrics, streams
from server.auth.accounts import AgentAccounts
from server.auth.api_keys import ShopKeys
from server.auth.identity import VisitorTokens
from server.auth.login import LoginService
from server.auth.passwords import Passwords
from server.auth.sessions import AgentSessions
from server.broker import Broker, create_broker
from server.chat.canned_replies import CannedReplies
from server.chat.customer_panel import CustomerPanel
from server.chat.inbox_views import InboxViews
from server.chat.page_views import PageViews
from server.chat.presence import PresenceService
from server.chat.search import Search
from server.chat.service import ChatService
from server.chat.stream import ConversationStream
from server.chat.support_report import SupportReports
from server.chat.visitors import Visitors
from server.collector import Collector
from server.hub import Hub
from server.ids import new_id
from server.mail.channel import MailChannel
from server.push.broadcast import Broadcaster
from server.push.campaigns import CampaignService
from server.push.customers import CustomerService
from server.push.greetings import Greetings
from server.push.hooks import CustomerActivity
from server.push.inbox import InboxService, InboxStream
from server.push.orders import OrderUpdates
from server.push.reminders import ReminderService
from server.push.scheduler import Scheduler
from server.push.segments import SegmentService
from server.push.surveys import SurveyService
from server.push.triggers import Triggers
from server.push.voucher_pools import VoucherPools
from server.push.vouchers import VoucherService
from server.settings import Settings
from server.store import Database
from server.store.agents import AgentStore
from server.store.api_keys import ApiKeyStore
from server.store.audience import AudienceStore
from server.store.campaign_results import CampaignResultsStore
from server.store.campaigns import CampaignStore, SegmentStore
from server.store.canned_replies import CannedReplyStore
from server.store.chat_writes import ChatWrites
from server.store.conversations import ConversationStore
from server.store.customers import CustomerAttributesStore, CustomerStore
from server.store.inbox import InboxStore
from server.store.page_views import PageViewStore
from server.store.reminders import ReminderStore
from server.store.satisfaction import SatisfactionStore
from server.store.sessions import SessionStore
from server.store.support_report import SupportReportStore
from server.store.surveys import SurveyStore
from server.store.transcript_search import TranscriptSearch
from server.store.voucher_pools import PoolStore
from server.store.vouchers import VoucherStore
from server.ws.limits import Limits

log = logging.getLogger("rapport")


class Node:
    """Opened by the app's lifespan, closed in reverse order on shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process_id = new_id("p")
        self.db = Database(settings.database_path, observe=metrics.observe_write_batch)
        self.broker: Broker = create_broker(settings.redis_url)
        # Stores are the services' alone: endpoints reach services (tests/unit/test_layers.py).
        self._conversations = ConversationStore(self.db)
        self._agents = AgentStore(self.db)
        self._customers = CustomerStore(self.db)
        self._api_keys = ApiKeyStore(self.db)
        # The push engine: its stores are its services' alone (endpoints reach the services).
        self._customer_attributes = CustomerAttributesStore(self.db)
        self._inbox_store = InboxStore(self.db)
        self._campaign_store = CampaignStore(self.db)
        self._audience = AudienceStore(self.db)
        self.shop_customers = CustomerService(self._customer_attributes, self._inbox_store)
        self.segments = SegmentService(SegmentStore(self.db), self._audience)
        self._voucher_store = VoucherStore(self.db)
        self.vouchers = VoucherService(self._voucher_store)
        self.surveys = SurveyService(SurveyStore(self.db))
        self.campaigns = CampaignService(
            self._campaign_store,
            self.segments,
            self._audience,
            self._customer_attributes,
            self.broker,
            CampaignResultsStore(self.db),
        )
        self.scheduler = Scheduler(settings.scheduler_interval)
        self.passwords = Passwords(settings)
        self.shop_keys = ShopKeys(self._api_keys)
        self.limits = Limits(
            frames_per_second=settings.rate_per_second,
            frame_burst=settings.rate_burst,
            connects_per_minute=settings.visitor_connects_per_minute,
            pause=settings.rate_limit_pause,
        )
        self.chat = ChatService(ChatWrites(self.db), self._conversations, self.broker, settings)
        self.presence = PresenceService(self._agents, self.broker, settings, self.process_id)
        # The agent's workspace: inbox views and history, search, the customer panel, canned replies.
        self._transcripts = TranscriptSearch(self.db)
        self._canned_replies = CannedReplyStore(self.db)
        self._page_views = PageViewStore(self.db)
        self._satisfaction = SatisfactionStore(self.db)
        self.support_reports = SupportReports(SupportReportStore(self.db))
        self.inbox_views = InboxViews(self._conversations)
        self.search = Search(self._transcripts)
        self.page_views = PageViews(self._page_views, settings)
        self.canned_replies = CannedReplies(self._canned_replies, self._customer_attributes)
        self.customer_panel = CustomerPanel(
            self.inbox_views,
            self._conversations,
            self._customer_attributes,
            self._inbox_store,
            self._voucher_store,
            self.page_views,
            self._satisfaction,
        )
        self.collector = Collector(settings.gc_full_interval)
        self.sampler: metrics.Sampler
        # E-mail: its stores are its own; endpoints reach its services (node.mail.*).
        self.mail = MailChannel(self.db, settings, self.process_id)
        # Set in open(): they need the store (epoch, generated secrets).
        self.hub: Hub
        # Push services that reach sockets through the hub (LocalDelivery), made with it.
        self.inbox: InboxService
        self.voucher_pools: VoucherPools
        self.orders: OrderUpdates
        self.reminders: ReminderService
        self.broadcast: Broadcaster
        self.triggers: Triggers
        self.greetings: Greetings
        self.activity: CustomerActivity
        self.visitor_tokens: VisitorTokens
        self.visitors: Visitors
        self.sessions: AgentSessions
        self.logins: LoginService
        self.accounts: AgentAccounts
        self.shop_secret = ""

    async def open(self) -> None:
        try:
            await self._open()
        except BaseException:
            # A start that fails half-way (a refused setting, a store that cannot open) must not
            # leave the store's threads behind: the process would never exit.
            await self._close(quietly=True)
            raise

    async def _open(self) -> None:
        await self.db.open()
        secret_keys = await self._secret_list("secret_key", self.settings.secret_key)
        self.shop_secret = (await self._secret_list("shop_secret", self.settings.shop_secret))[0]
        self.visitor_tokens = VisitorTokens(secret_keys, self.settings.visitor_token_max_age)
        self.visitors = Visitors(self._customers, self.visitor_tokens, self.broker, self.settings, self.shop_secret)
        sessions_store = SessionStore(self.db)
        self.sessions = AgentSessions(sessions_store, self.broker, secret_keys, self.settings.session_max_age)
        self.logins = LoginService(self._agents, sessions_store, self.passwords, self.sessions, self.settings)
        self.accounts = AgentAccounts(self._agents, self.passwords, self.sessions, self.settings)
        await self.accounts.ensure_first_admin()
        self.hub = Hub(
            self.broker,
            {
                "conv": ConversationStream(self._conversations, self.settings, self.db.epoch),
                "inbox": InboxStream(self._inbox_store, self.settings),
            },
            self.settings,
            self.db.epoch,
        )
        self.inbox = InboxService(self._inbox_store, self.broker, self.hub)
        self.voucher_pools = VoucherPools(PoolStore(self.db), self.segments, self.inbox)
        self.orders = OrderUpdates(self.shop_customers, self.inbox, self._inbox_store)
        self.reminders = ReminderService(ReminderStore(self.db), self.shop_customers, self.inbox)
        self.broadcast = Broadcaster(
            self._campaign_store, self.segments, self._audience, self.inbox, self.hub, self.settings
        )
        self.triggers = Triggers(self.broadcast, self.shop_customers)
        self.greetings = Greetings(self.broadcast, self.segments, self._audience)
        self.activity = self.triggers
        self.hub.on_reconnect(self.broadcast.catch_up)
        self.scheduler.add("campaigns", self.campaigns.start_due)
        self.scheduler.add("reminders", self.reminders.fire_due)
        self.scheduler.add("greetings", self.greetings.greet_due)
        self.mail.open(
            secret_keys,
            chat=self.chat,
            campaigns=self.campaigns,
            broadcast=self.broadcast,
            segments=self.segments,
            local=self.hub,
            scheduler=self.scheduler,
        )
        await self.broker.connect()
        await self.hub.listen(streams.AGENTS, self.presence.heard)
        await self.hub.listen(streams.CAMPAIGNS, self.broadcast.heard)
        await self.broadcast.start()
        await self.voucher_pools.resume()
        self.hub.start()
        self.presence.start()
        self.scheduler.start()
        await self.mail.start()
        self.collector.start()
        metrics.WAITING_CONVERSATIONS.set(len(await self.chat.waiting()))
        self.sampler = metrics.Sampler(
            {metrics.SEND_QUEUE_FRAMES: self.hub.backlog, metrics.STORE_WRITE_QUEUE: self.db.queued}
        )
        self.sampler.start()

    # What close() stops, in order: (attribute, method).
    _CLOSING = (
        ("sampler", "stop"),
        ("collector", "stop"),
        ("scheduler", "stop"),
        ("mail", "stop"),
        ("triggers", "stop"),
        ("broadcast", "stop"),
        ("voucher_pools", "stop"),
        ("presence", "stop"),
        ("hub", "stop"),
        ("broker", "close"),
        ("db", "close"),
    )

    async def close(self) -> None:
        await self._close(quietly=False)

    async def _close(self, *, quietly: bool) -> None:
        """Stop every part in order; `quietly` after a failed start, when some were never made."""
        for attribute, method in self._CLOSING:
            part = getattr(self, attribute, None)
            if part is None:
                continue
            if not quietly:
                await getattr(part, method)()
                continue
            try:
                await getattr(part, method)()
            except Exception:
                log.exception("stopping %s after a failed start", attribute)
        metrics.process_ended()

    @property
    def epoch(self) -> str:
        """The store's epoch (a restored copy has a new one): clients compare it to resume."""
        return self.db.epoch

    async def ready(self) -> tuple[bool, bool]:
        """Whether the store and the broker answer now (for /readyz)."""
        store, broker = await asyncio.gather(self.db.ping(), self.broker.ping())
        return store, broker

    async def _secret_list(self, name: str, configured: str | None) -> list[str]:
        """Configured keys (comma list, first signs) or one generated at first start and kept."""
        if configured:
            return [k.strip() for k in configured.split(",") if k.strip()]
        await self.db.set_meta(name, secrets.token_urlsafe(32), only_if_missing=True)
        stored = await self.db.get_meta(name)
        assert stored is not None  # noqa: S101 - written just above
        return [stored]
