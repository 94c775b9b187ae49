"""Personal reminders: a customer's own dates (birthday, renewal), fired once at their local time.

A reminder is a month and day, every year or once (with a year), at a local time in the
customer's IANA time zone. Its next firing is kept as a UTC instant (`next_fire_at`), computed
here and advanced when it fires, so the scheduler only compares integers. Firing is claimed in
one write transaction (store/reminders.py), so with any number of processes each occurrence
reaches the customer's inbox exactly once.

Reminders are transactional notifications (`marketing=False`): they are the customer's own
dates, sent whatever their marketing consent and outside the daily marketing cap. The
`reminders` table has no column to mark one as marketing; a shop that wants consent-bound
birthday offers uses a campaign.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from typing import Annotated, Literal

import msgspec

from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode
from server.push import templates
from server.push.customers import CustomerService, zone_of
from server.push.inbox import InboxService
from server.store.inbox import Draft
from server.store.reminders import Due, DueReminder, NewReminder, ReminderRecord, ReminderStore

log = logging.getLogger("rapport.reminders")

Repeat = Literal["yearly", "once"]
LocalTime = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        description="HH:MM or HH:MM:SS, 24-hour, in the customer's time zone",
    ),
]
# Limits: how many reminders one customer may have; how many fire per transaction (so one run
# never holds the write lock long) and per scheduler run (the rest wait for the next run).
MAX_PER_CUSTOMER = 100
BATCH = 100
MAX_BATCHES_PER_RUN = 20
# Templates see only the customer: a reminder has no voucher and is no campaign.
VARIABLES = frozenset({"customer"})

_MONTHS = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def check_date(month: int, day: int, year: int | None, repeat: Repeat) -> None:
    """Raise ValueError unless month/day (and year) make a date this reminder can fire on."""
    if repeat == "once" and year is None:
        raise ValueError("a reminder with repeat `once` needs a `year`")
    if repeat == "yearly" and year is not None:
        raise ValueError("`year` is only for repeat `once`; a yearly reminder fires on `month`/`day` every year")
    try:
        dt.date(2000 if year is None else year, month, day)  # 2000 is a leap year: February 29 is allowed
    except ValueError:
        when = f"{_MONTHS[month]} {day}" + ("" if year is None else f", {year}")
        raise ValueError(f"{when} is not a date") from None


class ReminderIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """A date to remind the customer of: every year on `month`/`day` (February 29 fires on
    February 28 in other years), or `once` on `year`-`month`-`day`; at `local_time` in the
    customer's time zone. `title` and `body` are templates that may use `customer`."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    month: Annotated[int, msgspec.Meta(ge=1, le=12)]
    day: Annotated[int, msgspec.Meta(ge=1, le=31)]
    year: Annotated[int, msgspec.Meta(ge=1970, le=2200)] | None = None
    local_time: LocalTime = "09:00"
    repeat: Repeat = "yearly"
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]

    def __post_init__(self) -> None:
        check_date(self.month, self.day, self.year, self.repeat)


class ReminderOut(msgspec.Struct):
    id: str
    customer_id: str  # the shop's id
    name: str
    month: int
    day: int
    year: int | None
    local_time: str
    repeat: Repeat
    title: str
    body: str
    # When it fires next (UTC milliseconds); None once a one-time reminder has fired.
    next_fire_at: int | None
    last_fired_at: int | None
    created_at: int


def reminder_out(reminder: ReminderRecord) -> ReminderOut:
    return ReminderOut(
        id=reminder.id,
        customer_id=reminder.external_id,
        name=reminder.name,
        month=reminder.month,
        day=reminder.day,
        year=reminder.year,
        local_time=reminder.local_time,
        repeat="once" if reminder.repeat == "once" else "yearly",
        title=reminder.title,
        body=reminder.body,
        next_fire_at=reminder.next_fire_at,
        last_fired_at=reminder.last_fired_at,
        created_at=reminder.created_at,
    )


def _local(year: int, month: int, day: int, at: dt.time, zone: zoneinfo.ZoneInfo) -> int:
    if month == 2 and day == 29 and not _leap(year):
        day = 28
    # fold=0: a time skipped by a spring-forward jump fires as if the clock had not jumped
    # (02:30 becomes 03:30 summer time); a time repeated in autumn fires at its first occurrence.
    local = dt.datetime.combine(dt.date(year, month, day), at, tzinfo=zone)
    return int(local.timestamp()) * 1000


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def next_fire_at(
    month: int, day: int, year: int | None, local_time: str, tz: str | zoneinfo.ZoneInfo, after_ms: int
) -> int | None:
    """The first occurrence strictly after `after_ms` (UTC ms): yearly when `year` is None, else
    that one day, or None if it is not after `after_ms`. `local_time` is HH:MM or HH:MM:SS in `tz`.

    Raises ValueError for an unknown time zone or a time that does not parse.
    """
    zone = tz if isinstance(tz, zoneinfo.ZoneInfo) else zone_of(tz)
    at = dt.time.fromisoformat(local_time)
    if year is not None:
        when = _local(year, month, day, at, zone)
        return when if when > after_ms else None
    this_year = dt.datetime.fromtimestamp(after_ms / 1000, zone).year
    # A year either side of the local year of `after_ms` covers every offset and February 29.
    for candidate in range(this_year - 1, this_year + 3):
        when = _local(candidate, month, day, at, zone)
        if when > after_ms:
            return when
    raise AssertionError("unreachable: a yearly date recurs within three years")  # pragma: no cover


# Time zones are at most 26 hours apart: the same local date and time in another zone lies
# within this of the instant computed for the old one.
_ZONE_SPAN_MS = 27 * 3600 * 1000


def _moved(reminder: DueReminder, zone: zoneinfo.ZoneInfo, occurrence: int) -> int | None:
    """When the customer changed time zone since `occurrence` was computed and this date's
    local time in the new zone is still ahead: that instant (the reminder waits for it).

    Computed at firing, so a change of zone never needs the reminders rewritten. A move east,
    whose new instant has already passed, fires now: late rather than never or twice.
    """
    try:
        intended = next_fire_at(
            reminder.month, reminder.day, reminder.year, reminder.local_time, zone, occurrence - _ZONE_SPAN_MS
        )
    except ValueError:
        return None
    if intended is None or intended <= occurrence or intended <= now_ms():
        return None
    return intended


class ReminderService:
    def __init__(self, store: ReminderStore, customers: CustomerService, inbox: InboxService) -> None:
        self._store = store
        self._customers = customers
        self._inbox = inbox

    async def create(self, external_id: str, body: ReminderIn) -> ReminderOut:
        customer = await self._customers.find(external_id, missing="; upsert them first")
        for field, source in (("title", body.title), ("body", body.body)):
            await templates.check(
                source,
                field=field,
                with_voucher=False,
                allowed=VARIABLES,
                allowed_note="reminders may use `customer` only",
            )
        try:
            zone = zone_of(customer.timezone)
        except ValueError as exc:
            raise Problem(ErrorCode.INVALID_REQUEST, f"customer {external_id}: {exc}") from None
        first = next_fire_at(body.month, body.day, body.year, body.local_time, zone, now_ms())
        if first is None:
            assert body.year is not None  # noqa: S101 - only a one-time date can be past
            raise Problem(
                ErrorCode.INVALID_REQUEST,
                f"{body.year:04d}-{body.month:02d}-{body.day:02d} {body.local_time} has already passed"
                f" in the customer's time zone ({zone.key})",
            )
        fields = NewReminder(
            name=body.name,
            month=body.month,
            day=body.day,
            year=body.year,
            local_time=body.local_time,
            repeat=body.repeat,
            title=body.title,
            body=body.body,
            next_fire_at=first,
        )
        reminder_id = await self._store.create(customer.id, fields, max_per_customer=MAX_PER_CUSTOMER)
        if reminder_id is None:
            raise Problem(
                ErrorCode.CONFLICT, f"customer {external_id} has {MAX_PER_CUSTOMER} reminders, the most allowed"
            )
        return await self.get(reminder_id)

    async def get(self, reminder_id: str) -> ReminderOut:
        found = await self._store.get(reminder_id)
        if found is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no reminder {reminder_id}")
        return reminder_out(found)

    async def for_customer(self, external_id: str) -> list[ReminderOut]:
        customer = await self._customers.find(external_id, missing="; upsert them first")
        return [reminder_out(r) for r in await self._store.for_customer(customer.id)]

    async def delete(self, reminder_id: str) -> None:
        if not await self._store.delete(reminder_id):
            raise Problem(ErrorCode.NOT_FOUND, f"no reminder {reminder_id}")

    # -------------------------------------------------------------- the scheduler's job

    async def fire_due(self) -> None:
        """Fire what is due: store (exactly once, whichever process gets there), then publish."""
        for _ in range(MAX_BATCHES_PER_RUN):
            now = now_ms()
            deliveries = await self._store.fire_due(now, plan=self._plan, limit=BATCH)
            await self._inbox.publish(deliveries)
            if not await self._store.any_due(now):
                return

    def _plan(self, due: Due) -> tuple[Draft | None, int | None]:
        """The notification for one due reminder and its next time. Runs in the write
        transaction, so it never raises: one bad row must not hold back every other reminder."""
        reminder, customer = due
        occurrence = reminder.next_fire_at
        following: int | None = None
        try:
            zone = zone_of(customer.timezone)
        except ValueError:
            log.warning("reminder %s: time zone %r unknown; using UTC", reminder.reminder_id, customer.timezone)
            zone = zoneinfo.ZoneInfo("UTC")
        moved = _moved(reminder, zone, occurrence)
        if moved is not None:
            return None, moved
        if reminder.repeat == "yearly":
            try:
                # After now, not after the occurrence: a reminder missed while no server ran
                # fires once, late, then keeps its yearly date, rather than once per missed year.
                following = next_fire_at(
                    reminder.month, reminder.day, None, reminder.local_time, zone, max(occurrence, now_ms())
                )
            except Exception:
                log.exception("reminder %s: no next date; it stops", reminder.reminder_id)
        try:
            context = templates.context_of(customer, voucher=None, campaign={})
            title = templates.render(reminder.title_template, context, field="title")
            body = templates.render(reminder.body_template, context, field="body")
        except Problem as exc:  # checked when saved; kept from stopping the others if data surprises
            log.error("reminder %s could not render: %s", reminder.reminder_id, exc.message)
            return None, following
        except Exception:
            log.exception("reminder %s could not render", reminder.reminder_id)
            return None, following
        draft = Draft(
            kind="reminder",
            marketing=False,
            title=title,
            body=body,
            data={"reminder_id": reminder.reminder_id, "name": reminder.reminder_name},
            dedupe_key=f"reminder:{reminder.reminder_id}:{occurrence}",
        )
        return draft, following
