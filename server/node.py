"""The running parts of one server process, wired together in one visible place."""

from __future__ import annotations

import logging
import secrets

from server import streams
from server.auth.accounts import AgentAccounts
from server.auth.api_keys import ShopKeys
from server.auth.identity import VisitorTokens
from server.auth.login import LoginService
from server.auth.passwords import Passwords
from server.auth.sessions import AgentSessions
from server.broker import Broker, create_broker
from server.chat.presence import PresenceService
from server.chat.service import ChatService
from server.chat.stream import ConversationStream
from server.chat.visitors import Visitors
from server.collector import Collector
from server.hub import Hub
from server.ids import new_id
from server.push.campaigns import CampaignService
from server.push.hooks import CustomerActivity
from server.push.inbox import InboxService, InboxStream
from server.push.reminders import ReminderService
from server.push.scheduler import Scheduler
from server.settings import Settings
from server.store import Database
from server.store.agents import AgentStore
from server.store.api_keys import ApiKeyStore
from server.store.campaigns import CampaignStore
from server.store.conversations import ConversationStore
from server.store.customers import CustomerAttributesStore, CustomerStore
from server.store.inbox import InboxStore
from server.store.reminders import ReminderStore
from server.store.sessions import SessionStore
from server.store.vouchers import VoucherStore
from server.ws.limits import Limits

log = logging.getLogger("rapport")


class Node:
    """Opened by the app's lifespan, closed in reverse order on shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process_id = new_id("p")
        self.db = Database(settings.database_path)
        self.broker: Broker = create_broker(settings.redis_url)
        self.conversations = ConversationStore(self.db)
        self.agents = AgentStore(self.db)
        self.customers = CustomerStore(self.db)
        self.api_keys = ApiKeyStore(self.db)
        self.customer_attributes = CustomerAttributesStore(self.db)
        self.inbox_store = InboxStore(self.db)
        self.inbox = InboxService(self.db, self.inbox_store, self.broker)
        self.campaign_store = CampaignStore(self.db)
        self.vouchers = VoucherStore(self.db)
        self.reminders = ReminderService(ReminderStore(self.db), self.customer_attributes, self.inbox)
        self.scheduler = Scheduler(settings.scheduler_interval)
        self.passwords = Passwords(settings)
        self.shop_keys = ShopKeys(self.api_keys)
        self.limits = Limits(
            frames_per_second=settings.rate_per_second,
            frame_burst=settings.rate_burst,
            connects_per_minute=settings.visitor_connects_per_minute,
            pause=settings.rate_limit_pause,
        )
        self.chat = ChatService(self.db, self.conversations, self.agents, self.broker, settings)
        self.presence = PresenceService(self.agents, self.broker, settings, self.process_id)
        self.collector = Collector(settings.gc_full_interval)
        # Set in open(): they need the store (epoch, generated secrets).
        self.hub: Hub
        self.campaigns: CampaignService
        self.activity: CustomerActivity
        self.visitor_tokens: VisitorTokens
        self.visitors: Visitors
        self.sessions: AgentSessions
        self.logins: LoginService
        self.accounts: AgentAccounts
        self.shop_secret = ""

    async def open(self) -> None:
        await self.db.open()
        secret_keys = await self._secret_list("secret_key", self.settings.secret_key)
        self.shop_secret = (await self._secret_list("shop_secret", self.settings.shop_secret))[0]
        self.visitor_tokens = VisitorTokens(secret_keys, self.settings.visitor_token_max_age)
        self.visitors = Visitors(self.customers, self.visitor_tokens, self.broker, self.settings, self.shop_secret)
        sessions_store = SessionStore(self.db)
        self.sessions = AgentSessions(sessions_store, self.broker, secret_keys, self.settings.session_max_age)
        self.logins = LoginService(self.agents, sessions_store, self.passwords, self.sessions, self.settings)
        self.accounts = AgentAccounts(self.agents, self.passwords, self.sessions, self.settings)
        await self.accounts.ensure_first_admin()
        self.hub = Hub(
            self.broker,
            {
                "conv": ConversationStream(self.conversations, self.settings, self.db.epoch),
                "inbox": InboxStream(self.inbox_store, self.settings),
            },
            self.settings,
            self.db.epoch,
        )
        self.campaigns = CampaignService(
            self.campaign_store,
            self.inbox,
            self.broker,
            self.settings,
            local_customers=lambda: self.hub.local_streams("inbox"),
            listen=self.hub.listen,
        )
        self.activity = self.campaigns
        self.hub.on_reconnect(self.campaigns.catch_up)
        self.scheduler.add("campaigns", self.campaigns.start_due)
        self.scheduler.add("reminders", self.reminders.fire_due)
        await self.broker.connect()
        await self.hub.listen(streams.AGENTS, self.presence.heard)
        await self.campaigns.start()
        self.hub.start()
        self.presence.start()
        self.scheduler.start()
        self.collector.start()

    async def close(self) -> None:
        await self.collector.stop()
        await self.scheduler.stop()
        await self.campaigns.stop()
        await self.presence.stop()
        await self.hub.stop()
        await self.broker.close()
        await self.db.close()

    async def _secret_list(self, name: str, configured: str | None) -> list[str]:
        """Configured keys (comma list, first signs) or one generated at first start and kept."""
        if configured:
            return [k.strip() for k in configured.split(",") if k.strip()]
        await self.db.set_meta(name, secrets.token_urlsafe(32), only_if_missing=True)
        stored = await self.db.get_meta(name)
        assert stored is not None  # noqa: S101 - written just above
        return [stored]
