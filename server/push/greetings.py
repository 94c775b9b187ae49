"""Recurring campaigns: a birthday (or another date of the customer's) greeted once a year, on their day.

A scheduler job (push/scheduler.py, every process): for each active recurring campaign, the
customers of its audience whose date falls on today somewhere (the UTC day and the days either
side, since time zones span 26 hours) are read by month and day through an index; those whose
own local date is that day, at or after the campaign's local time, get it. The occurrence is the
local year: the dedupe key `campaign:<id>:<year>` makes it once per customer and year, however
many processes or runs see the day. A day missed while no server ran is not greeted late.

The clock is injectable (`clock`), so a test can run "their day" through the real scheduler.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Callable

from server.ids import now_ms
from server.push.broadcast import Broadcaster
from server.push.campaigns import CampaignOut, selection_of
from server.push.customers import zone_of
from server.push.segments import SegmentService
from server.store.audience import AudienceStore, BadRule
from server.store.customers import CustomerDetails

log = logging.getLogger("rapport.campaigns")

# Customers read per page: a run goes through every page of the day's candidates (the shop's id
# orders them), so a day with more birthdays than a page holds still greets everyone.
PAGE = 5000
_UTC = zoneinfo.ZoneInfo("UTC")


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _day_of(value: object) -> str | None:
    """MM-DD of a stored date (YYYY-MM-DD or MM-DD); None for anything else."""
    if not isinstance(value, str) or len(value) < 5:
        return None
    day = value[-5:]
    return day if day[2] == "-" and day[:2].isdigit() and day[3:].isdigit() else None


def falls_on(day: str, local: dt.date) -> bool:
    """Whether a yearly MM-DD date falls on `local`: February 29 on February 28 in other years."""
    if day == "02-29" and not _leap(local.year):
        return local.month == 2 and local.day == 28
    return day == f"{local.month:02d}-{local.day:02d}"


class Greetings:
    """The scheduler's job for recurring campaigns (birthday and other dated greetings)."""

    def __init__(
        self,
        broadcast: Broadcaster,
        segments: SegmentService,
        audience: AudienceStore,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._broadcast = broadcast
        self._segments = segments
        self._audience = audience
        self.clock = clock

    async def greet_due(self) -> int:
        """Greet whoever's day it is now, for every running recurring campaign; how many were new."""
        greeted = 0
        for campaign in self._broadcast.running():
            if campaign.recurring is not None:
                greeted += await self._greet(campaign)
        return greeted

    async def _greet(self, campaign: CampaignOut) -> int:
        recurring = campaign.recurring
        assert recurring is not None  # noqa: S101
        now = self.clock()
        today = dt.datetime.fromtimestamp(now / 1000, _UTC).date()
        dates = [today + dt.timedelta(days=d) for d in (-1, 0, 1)]
        days = sorted(
            {f"{d.month:02d}-{d.day:02d}" for d in dates}
            | ({"02-29"} if any(d.month == 2 and d.day == 28 and not _leap(d.year) for d in dates) else set())
        )
        at = dt.time.fromisoformat(recurring.local_time)
        greeted = 0
        after: str | None = None
        while True:
            try:
                selection = await selection_of(campaign.audience, self._segments)
                page = await self._audience.on_days(selection, recurring.date_field, days, PAGE, after)
            except BadRule as exc:
                log.warning("campaign %s: %s", campaign.id, exc)
                return greeted
            except Exception:
                log.exception("campaign %s: its audience could not be read", campaign.id)
                return greeted
            by_year: dict[int, list[str]] = defaultdict(list)
            for customer in page:
                year = self._their_day(customer, recurring.date_field, at, now)
                if year is not None:
                    by_year[year].append(customer.id)
            for year, ids in by_year.items():
                greeted += await self._broadcast.deliver(campaign, ids, occurrence=str(year))
            if len(page) < PAGE:
                return greeted
            after = page[-1].external_id

    @staticmethod
    def _their_day(customer: CustomerDetails, date_field: str, at: dt.time, now: int) -> int | None:
        """The local year, when now is the customer's day at or after `at` in their time zone."""
        stored = customer.birthday if date_field == "birthday" else customer.attributes.get(date_field.split(".", 1)[1])
        day = _day_of(stored)
        if day is None:
            return None
        try:
            zone = zone_of(customer.timezone)
        except ValueError:
            zone = _UTC
        local = dt.datetime.fromtimestamp(now / 1000, zone)
        if not falls_on(day, local.date()) or local.time() < at:
            return None
        return local.year
