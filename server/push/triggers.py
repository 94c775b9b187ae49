"""Triggers: what a customer's activity makes due. Connecting brings the broadcasts still running;
a page (after some seconds on it) or a named event brings the campaigns waiting for it.

Once per customer (the campaign's dedupe key) unless the campaign repeats. Timers live on the
process that holds the tab, and die with it: a tab closed before its `min_seconds` gets nothing.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import uuid

from server.background import Background
from server.protocol import PropValue
from server.push.broadcast import Broadcaster
from server.push.campaigns import CampaignOut
from server.push.customers import CustomerService
from server.push.hooks import CustomerActivity

log = logging.getLogger("rapport.campaigns")


class Triggers(CustomerActivity):
    def __init__(self, broadcast: Broadcaster, customers: CustomerService) -> None:
        self._broadcast = broadcast
        self._customers = customers
        self._timers: dict[tuple[str, int], list[asyncio.TimerHandle]] = {}
        self._tasks = Background(log, "campaign trigger")

    async def stop(self) -> None:
        for handles in self._timers.values():
            for handle in handles:
                handle.cancel()
        self._timers.clear()
        await self._tasks.stop()

    async def on_connect(self, customer_id: str) -> None:
        for campaign in self._broadcast.running():
            # A recurring campaign goes out on each customer's date (push/greetings.py), not on connect.
            if campaign.trigger is None and campaign.recurring is None:
                await self._broadcast.deliver(campaign, [customer_id])

    async def on_page_view(self, customer_id: str, connection: int, url: str) -> None:
        key = (customer_id, connection)
        for handle in self._timers.pop(key, []):
            handle.cancel()
        loop = asyncio.get_running_loop()
        for campaign in self._broadcast.running():
            trigger = campaign.trigger
            if trigger is None or trigger.type != "page" or not trigger.url_pattern:
                continue
            if not fnmatch.fnmatchcase(url, trigger.url_pattern):
                continue
            if trigger.min_seconds == 0:
                await self._triggered(campaign, customer_id)
            else:
                handle = loop.call_later(trigger.min_seconds, self._fire_later, campaign, customer_id)
                self._timers.setdefault(key, []).append(handle)

    def on_disconnect(self, customer_id: str, connection: int) -> None:
        for handle in self._timers.pop((customer_id, connection), []):
            handle.cancel()

    async def on_event(self, customer_id: str, name: str, props: dict[str, PropValue]) -> None:
        for campaign in self._broadcast.running():
            trigger = campaign.trigger
            if trigger is None or trigger.type != "event" or trigger.event != name:
                continue
            if trigger.where and any(props.get(k) != v for k, v in trigger.where.items()):
                continue
            await self._triggered(campaign, customer_id)

    async def on_shop_event(self, external_id: str, name: str, props: dict[str, PropValue]) -> None:
        """A named event the shop's back end reports for one of its customers (by the shop's id)."""
        customer = await self._customers.find(external_id)
        await self.on_event(customer.id, name, props)

    def _fire_later(self, campaign: CampaignOut, customer_id: str) -> None:
        self._tasks.spawn(self._triggered(campaign, customer_id))

    async def _triggered(self, campaign: CampaignOut, customer_id: str) -> None:
        trigger = campaign.trigger
        occurrence = uuid.uuid4().hex if trigger is not None and trigger.repeat else None
        await self._broadcast.deliver(campaign, [customer_id], occurrence=occurrence)

