"""Agents told by e-mail that a customer waits: a message unanswered for a while, nobody online.

A scheduler job on every process. When a customer's message (the last one in an open
conversation) has waited `RAPPORT_MAIL_AGENT_ALERT_DELAY` and no agent has been online since, the
assigned agent gets a mail, or every agent when nobody is assigned. Each message is announced
once (decided in the write transaction that queues the mails).
"""

from __future__ import annotations

from collections.abc import Callable

from server.ids import now_ms
from server.mail.drafts import Drafts
from server.settings import Settings
from server.store.conversation_mail import ConversationMailStore


class AgentAlerts:
    def __init__(
        self, store: ConversationMailStore, drafts: Drafts, settings: Settings, queued: Callable[[], None]
    ) -> None:
        self._store = store
        self._drafts = drafts
        self._settings = settings
        self._queued = queued

    async def run(self) -> int:
        now = now_ms()
        written_before = now - int(self._settings.mail_agent_alert_delay * 1000)
        # An agent whose heartbeat is fresh counts as online (the presence TTL, as for routing).
        online_since = now - int(self._settings.presence_ttl * 1000)
        if not await self._store.waiting_candidates(written_before=written_before, online_since=online_since):
            return 0
        count = await self._store.mail_agent_alerts(
            written_before=written_before,
            online_since=online_since,
            plan=lambda waiting, agents: self._drafts.agent_alerts(waiting, agents, now),
        )
        if count:
            self._queued()
        return count
