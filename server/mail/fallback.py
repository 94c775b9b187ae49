"""Pushes that could not reach a customer live go by e-mail: order updates unseen for a while,
dated reminders to customers who were not on the site since, and campaigns that asked for e-mail
to whoever had not seen them by a deadline.

Scheduler jobs on every process; each mail is decided and queued in one write transaction with a
dedupe key (store/mail_fallback.py), so nothing is mailed twice however many processes run them.
Order updates and reminders are transactional (as in the inbox: no consent needed); campaign mail
is marketing: only to consenting customers, only as the copy of the campaign's notification,
which the push engine stores under its consent rules and daily cap (push/broadcast.py `deliver`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from server.errors import Problem
from server.ids import now_ms
from server.mail.drafts import Drafts
from server.push.broadcast import Broadcaster
from server.push.campaigns import CampaignService, selection_of
from server.push.segments import SegmentService
from server.settings import Settings
from server.store.mail_fallback import MailFallbackStore

log = logging.getLogger("rapport.mail")

# Unseen notifications older than this are left alone (a mail days later helps nobody).
_HORIZON_MS = 7 * 86_400_000
_CHUNK = 250


class PushFallback:
    def __init__(
        self,
        store: MailFallbackStore,
        drafts: Drafts,
        campaigns: CampaignService,
        broadcast: Broadcaster,
        segments: SegmentService,
        settings: Settings,
        queued: Callable[[], None],
    ) -> None:
        self._store = store
        self._drafts = drafts
        self._campaigns = campaigns
        self._broadcast = broadcast
        self._segments = segments
        self._settings = settings
        self._queued = queued

    async def orders(self) -> int:
        """Scheduler job: order updates nobody saw for `RAPPORT_MAIL_ORDER_UNSEEN_DELAY`."""
        return await self._unseen("order", self._settings.mail_order_unseen_delay, absent=False)

    async def reminders(self) -> int:
        """Scheduler job: reminders fired `RAPPORT_MAIL_REMINDER_UNSEEN_DELAY` ago, unseen, to
        customers who were not on the site since."""
        return await self._unseen("reminder", self._settings.mail_reminder_unseen_delay, absent=True)

    async def _unseen(self, kind: str, delay: float, *, absent: bool) -> int:
        now = now_ms()
        before, after = now - int(delay * 1000), now - _HORIZON_MS
        if not await self._store.any_unseen(kind, before=before, after=after, now=now, absent=absent):
            return 0
        count = await self._store.mail_unseen(
            kind, before=before, after=after, now=now, absent=absent, plan=self._drafts.unseen
        )
        if count:
            self._queued()
        return count

    async def campaigns(self) -> int:
        """Scheduler job: campaigns past their `email_after`, a chunk of the audience each time."""
        total = 0
        for due in await self._store.due_campaigns(now_ms()):
            total += await self._campaign_chunk(due.id, due.email_cursor)
        if total:
            self._queued()
        return total

    async def _campaign_chunk(self, campaign_id: str, cursor: str | None) -> int:
        try:
            campaign = await self._campaigns.get(campaign_id)
            selection = await selection_of(campaign.audience, self._segments)
        except Problem as exc:
            log.warning("campaign %s: no e-mail fallback (%s)", campaign_id, exc.message)
            await self._store.mail_campaign(
                campaign_id, [], cursor=(cursor, cursor), done=True, now=now_ms(), plan=lambda _: None
            )
            return 0
        chunk = await self._store.next_audience(selection, cursor, _CHUNK)
        ids = [customer_id for customer_id, _ in chunk]
        if ids:
            # Those who never had it (they were not on the site) get it in their inbox now, under
            # the campaign's consent rules and daily cap, with their voucher; the mail repeats it.
            await self._broadcast.deliver(campaign, ids, selection=selection)
        return await self._store.mail_campaign(
            campaign_id,
            ids,
            cursor=(cursor, chunk[-1][1] if chunk else cursor),
            done=len(chunk) < _CHUNK,
            now=now_ms(),
            plan=lambda copy: self._drafts.campaign(campaign_id, copy),
        )
