"""Delivering campaigns: each process stores and sends them for the customers connected to it.

A campaign that starts is announced to every process with one hint (`CampaignHint`). Each
process re-reads that campaign, then renders and stores it for the customers connected to it
now, and hands the result to its own sockets through the hub (`LocalDelivery`): a broadcast
costs in proportion to the customers online, not to all customers in the store, and Redis
carries one message per broadcast, not one per recipient. Everyone else gets it when they next
connect (push/triggers.py), until it expires. Every delivery is a notification with the dedupe
key `campaign:<id>`: two tabs on two processes, a retried hint or a restart never send it twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec

from server import metrics
from server.background import Background
from server.errors import Problem
from server.hub import LocalDelivery
from server.ids import now_ms
from server.protocol import NotificationKind
from server.push import templates, vouchers
from server.push.campaigns import CampaignOut, campaign_context, campaign_out, decode_hint, selection_of
from server.push.inbox import InboxService
from server.push.segments import SegmentService
from server.push.surveys import survey_data
from server.settings import Settings
from server.store.audience import AudienceStore, Selection
from server.store.campaigns import CampaignStore
from server.store.inbox import DailyCap, Draft
from server.store.vouchers import VoucherBatch

log = logging.getLogger("rapport.campaigns")

# A broadcast goes out in chunks of connected customers, a few in flight at once: small enough
# that the first customers get it within milliseconds, enough in flight to keep the store's
# writer thread and the event loop both busy.
_CHUNK = 250
_CHUNKS_IN_FLIGHT = 3
_DAY_MS = 86_400_000
_KIND_OF: dict[str, NotificationKind] = {
    "offer": "offer",
    "news": "news",
    "product": "product",
    "promotion": "promotion",
    "survey": "survey",
    "reminder": "reminder",
    "greeting": "greeting",
}


class Broadcaster:
    """The campaigns active now, as this process knows them, and delivering them to customers."""

    def __init__(
        self,
        campaigns: CampaignStore,
        segments: SegmentService,
        audience: AudienceStore,
        inbox: InboxService,
        local: LocalDelivery,
        settings: Settings,
    ) -> None:
        self._campaigns = campaigns
        self._segments = segments
        self._audience = audience
        self._inbox = inbox
        self._local = local
        self._settings = settings
        self._active: dict[str, CampaignOut] = {}
        self._unusable: set[str] = set()  # campaigns whose audience was found unusable (warned once)
        self._tasks = Background(log, "campaign task")

    async def start(self) -> None:
        await self.reload_all()

    async def stop(self) -> None:
        await self._tasks.stop()

    def running(self) -> list[CampaignOut]:
        """The active, unexpired campaigns, broadcasts and triggered ones alike."""
        now = now_ms()
        return [c for c in self._active.values() if c.expires_at is None or c.expires_at > now]

    # -------------------------------------------------------------- hints

    def heard(self, frame: str) -> None:
        """A hint on the campaigns channel (from any process, this one included)."""
        try:
            hint = decode_hint(frame)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.error("malformed campaign hint %r", frame[:200])
            return
        self._tasks.spawn(self._after_hint(hint.campaign))

    async def _after_hint(self, campaign_id: str) -> None:
        heard = time.perf_counter()
        campaign = await self.reload(campaign_id)
        if campaign is not None and campaign.trigger is None and campaign.recurring is None:
            await self.deliver_to_connected(campaign)
            metrics.BROADCAST_SECONDS.observe(time.perf_counter() - heard)

    async def reload(self, campaign_id: str) -> CampaignOut | None:
        """Read one campaign again: kept while active and unexpired, forgotten otherwise (paused,
        stopped, expired): a paused campaign so reaches nobody, by any path, until resumed."""
        found = await self._campaigns.get(campaign_id)
        self._unusable.discard(campaign_id)
        if found is None or found.status != "active" or (found.expires_at is not None and found.expires_at <= now_ms()):
            self._active.pop(campaign_id, None)
            return None
        campaign = self._active[campaign_id] = campaign_out(found)
        return campaign

    async def reload_all(self) -> None:
        self._active = {c.id: campaign_out(c) for c in await self._campaigns.active()}
        self._unusable.clear()

    async def catch_up(self) -> None:
        """After a broker outage a start hint may have been lost: deliver active campaigns to
        everyone connected here (idempotent: the dedupe key stops repeats)."""
        await self.reload_all()
        for campaign in self.running():
            if campaign.trigger is None and campaign.recurring is None:
                await self.deliver_to_connected(campaign)

    # -------------------------------------------------------------- delivery

    async def deliver_to_connected(self, campaign: CampaignOut) -> int:
        """This process's share of a broadcast: its connected customers, in chunks that overlap
        (one is rendered while the one before is written by the store's thread)."""
        selection = await self._selection(campaign)
        if selection is None:
            return 0
        customers = self._local.connected("inbox")
        chunks = [customers[start : start + _CHUNK] for start in range(0, len(customers), _CHUNK)]
        in_flight = asyncio.Semaphore(_CHUNKS_IN_FLIGHT)

        async def one(chunk: list[str]) -> int:
            async with in_flight:
                return await self.deliver(campaign, chunk, selection=selection, here=True)

        return sum(await asyncio.gather(*(one(chunk) for chunk in chunks)))

    async def deliver(
        self,
        campaign: CampaignOut,
        customer_ids: list[str],
        *,
        occurrence: str | None = None,
        selection: Selection | None = None,
        here: bool = False,
    ) -> int:
        """Render and store the campaign for those of these customers it may reach, then send.

        `here`: these customers are connected to this process, and every process is doing the
        same for its own (a broadcast): hand the result to local sockets only. Otherwise (one
        customer's trigger or connect) publish it, for their tabs on other processes.
        `selection`: the audience, resolved already (once per broadcast).
        """
        if campaign.expires_at is not None and campaign.expires_at <= now_ms():
            return 0
        if selection is None:
            selection = await self._selection(campaign)
            if selection is None:
                return 0
        dedupe_key = f"campaign:{campaign.id}" + (f":{occurrence}" if occurrence else "")
        marketing = campaign.consent == "marketing"
        caps = self._caps(campaign) if marketing else []
        reach = await self._audience.reach(
            customer_ids,
            selection,
            caps=[(cap.limit, cap.since) for cap in caps],
            dedupe_key=dedupe_key,
            consent_required=marketing,
        )
        recipients = reach.eligible
        if reach.capped:
            await self._campaigns.hold(campaign.id, reach.capped, "frequency_cap")
        if not recipients and not here:
            return 0
        spec = campaign.voucher
        codes = {c.id: vouchers.new_code() for c in recipients} if spec is not None else {}
        # Once: the stored voucher and the frame agree.
        voucher_expires = vouchers.expiry(spec, campaign.expires_at) if spec is not None else None
        campaign_vars = campaign_context(campaign)
        data = survey_data(campaign.survey) if campaign.survey is not None else None
        drafts: list[tuple[str, Draft]] = []
        for customer in recipients:
            voucher_vars: dict[str, Any] | None = None
            if spec is not None:
                voucher_vars = vouchers.context(spec, codes[customer.id], voucher_expires)
            context = templates.context_of(customer, voucher=voucher_vars, campaign=campaign_vars)
            try:
                title = templates.render(campaign.title, context, field="title")
                body = templates.render(campaign.body, context, field="body")
            except Problem as exc:  # checked at save time; kept from stopping the rest if data surprises
                log.error("campaign %s could not render for %s: %s", campaign.id, customer.id, exc.message)
                continue
            drafts.append(
                (
                    customer.id,
                    Draft(
                        kind=_KIND_OF[campaign.kind],
                        marketing=marketing,
                        title=title,
                        body=body,
                        url=campaign.url,
                        data=data,
                        voucher=vouchers.info(spec, codes[customer.id], voucher_expires) if spec else None,
                        expires_at=campaign.expires_at,
                        campaign_id=campaign.id,
                        dedupe_key=dedupe_key,
                    ),
                )
            )
        issued = None
        if spec is not None:
            issued = VoucherBatch(
                campaign_id=campaign.id,
                codes=codes,
                kind=spec.kind,
                amount=spec.amount,
                currency=spec.currency,
                expires_at=voucher_expires,
            )
        # The eligibility query above skips most of those past a cap cheaply; the store decides.
        if here:
            return await self._inbox.deliver_here(customer_ids, drafts, dedupe_key, caps=caps, vouchers=issued)
        return await self._inbox.deliver(drafts, caps=caps, vouchers=issued)

    def _caps(self, campaign: CampaignOut) -> list[DailyCap]:
        """The shop's daily cap of marketing notifications, and the campaign's own if it has one."""
        now = now_ms()
        caps = [DailyCap(self._settings.frequency_cap_per_day, now - _DAY_MS)]
        if campaign.frequency_cap is not None:
            own = campaign.frequency_cap
            caps.append(DailyCap(own.max, now - own.days * _DAY_MS))
        return caps

    async def _selection(self, campaign: CampaignOut) -> Selection | None:
        """Whom the campaign's audience selects now; None when it cannot reach anyone (its
        segment was deleted, say)."""
        try:
            return await selection_of(campaign.audience, self._segments)
        except Problem as exc:
            if campaign.id not in self._unusable:
                self._unusable.add(campaign.id)
                log.warning("campaign %s has no usable audience: %s", campaign.id, exc.message)
            return None

