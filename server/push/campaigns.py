"""Campaigns: what marketers write (the models), and what they do with a campaign (the service).

A marketer creates a draft, previews it for a customer, sends or schedules it, pauses and
resumes it, stops it, copies it, and follows its results (push/campaign_results.py).
Every change of an active or scheduled campaign is announced to every process with one hint on
the `campaigns` channel (`CampaignHint`); push/broadcast.py delivers it from there, and
push/triggers.py when a customer's activity calls for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any, Literal

import msgspec

from server import streams
from server.broker import Broker
from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode, Notification, PropValue, VoucherInfo, encode
from server.push import templates, vouchers
from server.push.customers import ExternalId
from server.push.segments import SegmentService, lapsed
from server.push.surveys import Survey, check_survey
from server.push.vouchers import VoucherSpec
from server.store.audience import AudienceStore, Everyone, Listed, Selection
from server.store.campaign_results import ACTIONS, Bucket, CampaignResultsStore, RecipientRow
from server.store.campaigns import CampaignFields, CampaignRecord, CampaignStore
from server.store.customers import CustomerAttributesStore

__all__ = [
    "Audience",
    "CampaignHint",
    "CampaignIn",
    "CampaignOut",
    "CampaignService",
    "FrequencyCap",
    "Placeholders",
    "PreviewIn",
    "PreviewOut",
    "RecipientRow",
    "Recurring",
    "SendIn",
    "Stats",
    "Trigger",
    "VoucherSpec",
    "campaign_context",
    "campaign_out",
    "selection_of",
]

log = logging.getLogger("rapport.campaigns")

CampaignKind = Literal["offer", "news", "product", "promotion", "survey", "reminder", "greeting"]
Status = Literal["draft", "scheduled", "active", "paused", "stopped"]
# Marketing needs the customer's consent and counts against caps; transactional (a service
# message: a reminder, a greeting without an offer) needs neither.
Consent = Literal["marketing", "transactional"]
LocalTime = Annotated[
    str,
    msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, 24-hour, in the customer's time zone"),
]
DateField = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(birthday|attributes\.[A-Za-z0-9_]{1,64})$",
        description="`birthday`, or `attributes.<name>` holding YYYY-MM-DD or MM-DD",
    ),
]


class Audience(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """`all` customers, a `segment`, listed `customers` (the shop's ids), or `lapsed` for `days`."""

    type: Literal["all", "segment", "customers", "lapsed"]
    segment_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    customer_ids: Annotated[list[ExternalId], msgspec.Meta(max_length=10000)] | None = None
    days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


class Trigger(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Wait for the customer: a page (`url_pattern`, a glob, after `min_seconds` on it) or a named
    `event` (from the page or the shop's back end) whose props include `where`."""

    type: Literal["page", "event"]
    url_pattern: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None
    min_seconds: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 0
    event: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    where: Annotated[dict[str, PropValue], msgspec.Meta(max_length=10)] | None = None
    repeat: bool = False


class FrequencyCap(msgspec.Struct, forbid_unknown_fields=True):
    """Hold back a customer who already has `max` marketing notifications from the last `days`
    days (the shop's daily cap, RAPPORT_FREQUENCY_CAP_PER_DAY, holds as well)."""

    max: Annotated[int, msgspec.Meta(ge=1, le=100)]
    days: Annotated[int, msgspec.Meta(ge=1, le=365)]


class Recurring(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Every year on each customer's own date (`date_field`), once, at `local_time` in their time
    zone: a birthday greeting. February 29 falls on February 28 in other years."""

    date_field: DateField = "birthday"
    local_time: LocalTime = "09:00"


class CampaignIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: CampaignKind
    audience: Audience
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    url: Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^https?://")] | None = None
    voucher: VoucherSpec | None = None
    trigger: Trigger | None = None
    expires_at: dt.datetime | None = None
    # A survey campaign's questions (choice, scale, free text), rendered inside its notification.
    survey: Survey | None = None
    # The e-mail fallback: at this time, customers in the audience who consent and did not see
    # it live get it by e-mail (mail/fallback.py).
    email_after: dt.datetime | None = None
    consent: Consent = "marketing"
    frequency_cap: FrequencyCap | None = None
    # A yearly date per customer (a birthday greeting) instead of one broadcast.
    recurring: Recurring | None = None


class CampaignOut(msgspec.Struct):
    id: str
    name: str
    kind: CampaignKind
    status: Status
    audience: Audience
    title: str
    body: str
    url: str | None
    voucher: VoucherSpec | None
    trigger: Trigger | None
    send_at: int | None
    started_at: int | None
    expires_at: int | None
    created_at: int
    survey: Survey | None = None
    email_after: int | None = None
    consent: Consent = "marketing"
    frequency_cap: FrequencyCap | None = None
    recurring: Recurring | None = None
    paused_at: int | None = None
    copied_from: str | None = None


class SendIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Send now (no `send_at`) or at a time."""

    send_at: dt.datetime | None = None


class PreviewIn(msgspec.Struct, forbid_unknown_fields=True):
    customer_id: ExternalId


class PreviewOut(msgspec.Struct):
    customer_id: str
    title: str
    body: str
    in_audience: bool
    marketing_consent: bool
    # The notification the widget would be sent (seq 0, a sample voucher code): the console
    # shows it with the widget's own component.
    notification: Notification | None = None
    # Why this customer would not get it, if they would not: not_in_audience, no_consent.
    held_back: str | None = None


class TimePoint(msgspec.Struct):
    """Totals up to the end of a time bucket starting at `at` (ms)."""

    at: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    dismissed: int
    redeemed: int


class Stats(msgspec.Struct):
    """A campaign's results now. `audience`: customers the audience selects; `eligible`: of them,
    those it may reach (`no_consent` held back for want of marketing consent); `frequency_cap`:
    held back by a cap; `expired`: never reached before it expired (or was stopped); `waiting`:
    eligible, not reached yet (offline: they get it on their next visit). `recipients`: stored in
    inboxes; `delivered` ... `redeemed`: what the widget and the shop reported."""

    recipients: int
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    dismissed: int = 0
    redeemed: int = 0
    audience: int = 0
    eligible: int = 0
    no_consent: int = 0
    frequency_cap: int = 0
    expired: int = 0
    waiting: int = 0
    bucket_ms: int = 60_000
    timeline: list[TimePoint] = msgspec.field(default_factory=list)


class ListCounts(msgspec.Struct):
    """A campaign's key counts in a list."""

    recipients: int
    delivered: int
    opened: int
    clicked: int
    redeemed: int


class CampaignList(msgspec.Struct):
    """Campaigns, newest first; `counts[i]` are those of `campaigns[i]`."""

    campaigns: list[CampaignOut]
    counts: list[ListCounts]


class Placeholder(msgspec.Struct):
    """A variable a title or body may use, as `{{ name }}`."""

    name: str
    description: str
    example: str
    voucher_only: bool = False


class Placeholders(msgspec.Struct):
    placeholders: list[Placeholder]


class CampaignHint(msgspec.Struct, forbid_unknown_fields=True):
    """What the `campaigns` channel carries between processes: campaign `campaign` changed
    (started, changed, stopped); each process re-reads that one campaign from the store.

    Not a frame: no client ever sees it. Encoded with `protocol.encode`, like every payload.
    """

    campaign: str


_hint_decoder = msgspec.json.Decoder(CampaignHint)


def decode_hint(frame: str) -> CampaignHint:
    """Raises msgspec.DecodeError (or ValidationError) for what is not a campaign hint."""
    return _hint_decoder.decode(frame)


def _ms(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


_audience_decoder = msgspec.json.Decoder(Audience)
_voucher_decoder = msgspec.json.Decoder(VoucherSpec)
_trigger_decoder = msgspec.json.Decoder(Trigger)
_survey_decoder = msgspec.json.Decoder(Survey)
_cap_decoder = msgspec.json.Decoder(FrequencyCap)
_recurring_decoder = msgspec.json.Decoder(Recurring)


def campaign_out(campaign: CampaignRecord) -> CampaignOut:
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        kind=campaign.kind,  # type: ignore[arg-type]  # the store keeps what CampaignIn allowed
        status=campaign.status,  # type: ignore[arg-type]
        audience=_audience_decoder.decode(campaign.audience),
        title=campaign.title_template,
        body=campaign.body_template,
        url=campaign.url,
        voucher=_voucher_decoder.decode(campaign.voucher) if campaign.voucher else None,
        trigger=_trigger_decoder.decode(campaign.trigger) if campaign.trigger else None,
        send_at=campaign.send_at,
        started_at=campaign.started_at,
        expires_at=campaign.expires_at,
        created_at=campaign.created_at,
        survey=_survey_decoder.decode(campaign.survey) if campaign.survey else None,
        email_after=campaign.email_after,
        consent="transactional" if campaign.consent == "transactional" else "marketing",
        frequency_cap=_cap_decoder.decode(campaign.frequency_cap) if campaign.frequency_cap else None,
        recurring=_recurring_decoder.decode(campaign.recurring) if campaign.recurring else None,
        paused_at=campaign.paused_at,
        copied_from=campaign.copied_from,
    )


def campaign_context(campaign: CampaignOut) -> dict[str, Any]:
    """The `campaign` a template sees."""
    expires = campaign.expires_at
    return {
        "name": campaign.name,
        "expires_on": dt.datetime.fromtimestamp(expires / 1000, dt.UTC).date().isoformat() if expires else "",
    }


async def selection_of(audience: Audience, segments: SegmentService) -> Selection:
    """Whom an audience selects, as the store's audience compiler takes it; a segment's rules as
    they are stored now. Problem(invalid_request) for an audience that selects nothing usable."""
    if audience.type == "all":
        return Everyone()
    if audience.type == "customers":
        ids = audience.customer_ids or []
        if not ids:
            raise Problem(
                ErrorCode.INVALID_REQUEST, "a customers audience lists customer_ids", field="audience.customer_ids"
            )
        return Listed(tuple(ids))
    if audience.type == "lapsed":
        if audience.days is None:
            raise Problem(ErrorCode.INVALID_REQUEST, "a lapsed audience needs days", field="audience.days")
        return lapsed(audience.days)
    if audience.segment_id is None:
        raise Problem(ErrorCode.INVALID_REQUEST, "a segment audience needs segment_id", field="audience.segment_id")
    rules = await segments.rules(audience.segment_id)
    if rules is None:
        raise Problem(ErrorCode.INVALID_REQUEST, f"no segment {audience.segment_id}", field="audience.segment_id")
    return rules


# What a template may name, for the composer's list (push/templates.py renders them).
PLACEHOLDERS = (
    Placeholder("customer.first_name", "The customer's first name", "Alex"),
    Placeholder("customer.name", "The customer's full name", "Alex Example"),
    Placeholder("customer.email", "The customer's e-mail address", "alex@example.com"),
    Placeholder("customer.loyalty_points", "Loyalty points", "120"),
    Placeholder("customer.tier", "Loyalty tier", "gold"),
    Placeholder("customer.birthday", "Birthday (YYYY-MM-DD)", "1990-05-17"),
    Placeholder("customer.total_spent", "Total spent", "420.5"),
    Placeholder("customer.last_order_date", "Date of the last order", "2026-01-31"),
    Placeholder("customer.id", "The shop's id of the customer", "shop-123"),
    Placeholder("customer.attributes.NAME", "A custom attribute the shop sends (replace NAME)", ""),
    Placeholder("voucher.code", "The customer's own voucher code", "ABCD-EFGH-JKLM", voucher_only=True),
    Placeholder("voucher.amount", "The voucher's value (percent or amount)", "10", voucher_only=True),
    Placeholder("voucher.currency", "The voucher's currency (amount vouchers)", "EUR", voucher_only=True),
    Placeholder("voucher.expires_on", "The day the voucher expires", "2026-12-31", voucher_only=True),
    Placeholder("campaign.name", "The campaign's name", "Sample"),
    Placeholder("campaign.expires_on", "The day the campaign ends", "2026-12-31"),
)
_PREVIEW_CODE = "PREVIEW-CODE-0000"
_MINUTE_MS = 60_000
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000


def bucket_for(span_ms: int) -> int:
    """A time chart's bucket: minutes for the first hours, hours for a week, days after."""
    if span_ms <= 3 * _HOUR_MS:
        return _MINUTE_MS
    if span_ms <= 7 * _DAY_MS:
        return _HOUR_MS
    return _DAY_MS


class CampaignService:
    """What marketers do with campaigns: write, preview, send or schedule, pause, resume, stop,
    copy, follow."""

    def __init__(
        self,
        store: CampaignStore,
        segments: SegmentService,
        audience: AudienceStore,
        customers: CustomerAttributesStore,
        broker: Broker,
        results: CampaignResultsStore,
    ) -> None:
        self._store = store
        self._segments = segments
        self._audience = audience
        self._customers = customers
        self._broker = broker
        self._results = results

    async def create(self, body: CampaignIn, created_by: str) -> CampaignOut:
        await self._validate(body)
        campaign_id = await self._store.create(self._fields(body), created_by=created_by)
        return await self.get(campaign_id)

    async def update(self, campaign_id: str, body: CampaignIn) -> CampaignOut:
        await self.get(campaign_id)
        await self._validate(body)
        if not await self._store.update(campaign_id, self._fields(body)):
            raise Problem(ErrorCode.CONFLICT, "only draft or scheduled campaigns can be changed; stop and copy it")
        await self.announce(campaign_id)
        return await self.get(campaign_id)

    async def duplicate(self, campaign_id: str, created_by: str) -> CampaignOut:
        """A new draft with the same content (a sent or stopped campaign can so be sent again).
        Times already past (expiry, e-mail fallback) are left out: the copy sets its own."""
        original = await self.get(campaign_id)
        now = now_ms()
        fields = CampaignFields(
            name=f"Copy of {original.name}"[:200],
            kind=original.kind,
            audience=encode(original.audience).decode(),
            title_template=original.title,
            body_template=original.body,
            url=original.url,
            voucher=encode(original.voucher).decode() if original.voucher else None,
            trigger=encode(original.trigger).decode() if original.trigger else None,
            expires_at=original.expires_at if original.expires_at and original.expires_at > now else None,
            survey=encode(original.survey).decode() if original.survey else None,
            email_after=original.email_after if original.email_after and original.email_after > now else None,
            consent=original.consent,
            frequency_cap=encode(original.frequency_cap).decode() if original.frequency_cap else None,
            recurring=encode(original.recurring).decode() if original.recurring else None,
        )
        copy_id = await self._store.create(fields, created_by=created_by, copied_from=original.id)
        return await self.get(copy_id)

    async def get(self, campaign_id: str) -> CampaignOut:
        found = await self._store.get(campaign_id)
        if found is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no campaign {campaign_id}")
        return campaign_out(found)

    async def recent(self, limit: int, offset: int) -> CampaignList:
        """Campaigns, the newest first, with their key counts."""
        campaigns = [campaign_out(c) for c in await self._store.recent(limit, offset)]
        reached = await self._results.many([c.id for c in campaigns])
        counts = [
            ListCounts(
                recipients=r.recipients, delivered=r.delivered, opened=r.opened, clicked=r.clicked, redeemed=r.redeemed
            )
            for r in (reached[c.id] for c in campaigns)
        ]
        return CampaignList(campaigns=campaigns, counts=counts)

    async def send(self, campaign_id: str, send_at: dt.datetime | None) -> CampaignOut:
        campaign = await self.get(campaign_id)
        if campaign.expires_at is not None and campaign.expires_at <= now_ms():
            raise Problem(ErrorCode.CONFLICT, "this campaign has expired", field="expires_at")
        at = _ms(send_at)
        if at is not None and at > now_ms():
            moved = await self._store.schedule(campaign_id, at)
        else:
            moved = await self._store.start(campaign_id, now_ms())
        if not moved:
            raise Problem(
                ErrorCode.CONFLICT, f"a {campaign.status} campaign cannot be sent again; duplicate it to send it again"
            )
        await self.announce(campaign_id)
        return await self.get(campaign_id)

    async def stop_campaign(self, campaign_id: str) -> CampaignOut:
        await self.get(campaign_id)
        if not await self._store.stop(campaign_id):
            raise Problem(ErrorCode.CONFLICT, "only scheduled, active or paused campaigns can be stopped")
        await self.announce(campaign_id)
        return await self.get(campaign_id)

    async def pause(self, campaign_id: str) -> CampaignOut:
        """An active campaign delivers nothing (live, on connect, by trigger or date) until resumed."""
        await self.get(campaign_id)
        if not await self._store.pause(campaign_id):
            raise Problem(ErrorCode.CONFLICT, "only an active campaign can be paused")
        await self.announce(campaign_id)
        return await self.get(campaign_id)

    async def resume(self, campaign_id: str) -> CampaignOut:
        """A paused campaign is active again: delivered to whoever is connected now, and so on."""
        await self.get(campaign_id)
        if not await self._store.resume(campaign_id):
            raise Problem(ErrorCode.CONFLICT, "only a paused campaign can be resumed")
        await self.announce(campaign_id)
        return await self.get(campaign_id)

    async def preview(self, campaign_id: str, external_id: str) -> PreviewOut:
        campaign = await self.get(campaign_id)
        customer = await self._customers.get(external_id)
        if customer is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no customer {external_id}", field="customer_id")
        member = await self._audience.includes(customer.id, await selection_of(campaign.audience, self._segments))
        voucher = None
        voucher_info: VoucherInfo | None = None
        if campaign.voucher is not None:
            expires = vouchers.expiry(campaign.voucher, campaign.expires_at)
            voucher = vouchers.context(campaign.voucher, _PREVIEW_CODE, expires)
            voucher_info = vouchers.info(campaign.voucher, _PREVIEW_CODE, expires)
        context = templates.context_of(customer, voucher=voucher, campaign=campaign_context(campaign))
        title = templates.render(campaign.title, context, field="title")
        body = templates.render(campaign.body, context, field="body")
        held_back = None
        if not member:
            held_back = "not_in_audience"
        elif campaign.consent == "marketing" and not customer.marketing_consent:
            held_back = "no_consent"
        notification = Notification(
            seq=0,
            kind=campaign.kind,
            title=title,
            body=body,
            at=now_ms(),
            marketing=campaign.consent == "marketing",
            url=campaign.url,
            voucher=voucher_info,
            campaign_id=campaign.id,
            expires_at=campaign.expires_at,
        )
        return PreviewOut(
            customer_id=external_id,
            title=title,
            body=body,
            in_audience=member,
            marketing_consent=customer.marketing_consent,
            notification=notification,
            held_back=held_back,
        )

    async def stats(self, campaign_id: str) -> Stats:
        """The campaign's results now: its audience, who was held back and why, who is waiting for
        their next visit, what the reached did, and all of that over time."""
        campaign = await self.get(campaign_id)
        consent_required = campaign.consent == "marketing"
        try:
            selection: Selection | None = await selection_of(campaign.audience, self._segments)
        except Problem:
            selection = None  # its segment was deleted: nobody is selected now
        counts = (
            await self._results.audience(campaign_id, selection, consent_required=consent_required)
            if selection is not None
            else None
        )
        reached = await self._results.reached(campaign_id)
        audience = counts.audience if counts else 0
        no_consent = counts.no_consent if counts else 0
        eligible = max(audience - no_consent, 0)
        not_reached = max(eligible - reached.recipients - reached.capped, 0)
        now = now_ms()
        over = campaign.status == "stopped" or (campaign.expires_at is not None and campaign.expires_at <= now)
        started = campaign.started_at or now
        bucket = bucket_for(now - started)
        return Stats(
            recipients=reached.recipients,
            delivered=reached.delivered,
            opened=reached.opened,
            clicked=reached.clicked,
            dismissed=reached.dismissed,
            redeemed=reached.redeemed,
            audience=audience,
            eligible=eligible,
            no_consent=no_consent,
            frequency_cap=reached.capped,
            expired=not_reached if over and campaign.status != "draft" else 0,
            waiting=0 if over or campaign.status in ("draft", "scheduled") else not_reached,
            bucket_ms=bucket,
            timeline=_running_totals(await self._results.timeline(campaign_id, bucket)),
        )

    async def recipients(self, campaign_id: str, limit: int) -> list[RecipientRow]:
        """Who got the campaign (and what they did with it), then who was held back."""
        await self.get(campaign_id)
        return await self._results.recipients(campaign_id, limit)

    @staticmethod
    def placeholders() -> Placeholders:
        return Placeholders(placeholders=list(PLACEHOLDERS))

    async def start_due(self) -> None:
        """Scheduler job: scheduled campaigns whose time came start, announced once each."""
        for campaign_id in await self._store.start_due():
            await self.announce(campaign_id)

    async def announce(self, campaign_id: str) -> None:
        """Tell every process (this one included) that a campaign changed."""
        hint = encode(CampaignHint(campaign=campaign_id))
        await self._broker.publish(streams.CAMPAIGNS, streams.frame_envelope(hint))

    async def _validate(self, body: CampaignIn) -> None:
        for field, source in (("title", body.title), ("body", body.body)):
            await templates.check(source, field=field, with_voucher=body.voucher is not None)
        await selection_of(body.audience, self._segments)
        check_survey(body.kind, body.survey)
        if body.voucher is not None and body.voucher.kind == "percent" and body.voucher.amount > 100:
            raise Problem(ErrorCode.INVALID_REQUEST, "a percentage voucher is at most 100", field="voucher.amount")
        if body.trigger is not None:
            t = body.trigger
            if t.type == "page" and not t.url_pattern:
                raise Problem(
                    ErrorCode.INVALID_REQUEST, "a page trigger needs url_pattern", field="trigger.url_pattern"
                )
            if t.type == "event" and not t.event:
                raise Problem(ErrorCode.INVALID_REQUEST, "an event trigger needs event", field="trigger.event")
        expires = _ms(body.expires_at)
        if expires is not None and expires <= now_ms():
            raise Problem(ErrorCode.INVALID_REQUEST, "expires_at is in the past", field="expires_at")
        email_after = _ms(body.email_after)
        if email_after is not None and expires is not None and email_after >= expires:
            raise Problem(ErrorCode.INVALID_REQUEST, "email_after must come before expires_at", field="email_after")
        if body.consent == "transactional" and (body.voucher is not None or body.kind in _MARKETING_KINDS):
            raise Problem(
                ErrorCode.INVALID_REQUEST,
                "an offer, a promotion, a new product or a voucher is marketing: it needs the customer's consent",
                field="consent",
            )
        if body.kind == "greeting" and body.recurring is None:
            raise Problem(
                ErrorCode.INVALID_REQUEST, "a greeting recurs on each customer's date: set recurring", field="recurring"
            )
        if body.recurring is not None and (body.trigger is not None or body.email_after is not None):
            raise Problem(
                ErrorCode.INVALID_REQUEST,
                "a recurring campaign goes out on each customer's date: no trigger, no e-mail fallback",
                field="recurring",
            )

    @staticmethod
    def _fields(body: CampaignIn) -> CampaignFields:
        return CampaignFields(
            name=body.name,
            kind=body.kind,
            audience=encode(body.audience).decode(),
            title_template=body.title,
            body_template=body.body,
            url=body.url,
            voucher=encode(body.voucher).decode() if body.voucher else None,
            trigger=encode(body.trigger).decode() if body.trigger else None,
            expires_at=_ms(body.expires_at),
            survey=encode(body.survey).decode() if body.survey else None,
            email_after=_ms(body.email_after),
            consent=body.consent,
            frequency_cap=encode(body.frequency_cap).decode() if body.frequency_cap else None,
            recurring=encode(body.recurring).decode() if body.recurring else None,
        )


_MARKETING_KINDS = frozenset({"offer", "promotion", "product"})


def _running_totals(buckets: list[Bucket]) -> list[TimePoint]:
    totals = dict.fromkeys(("sent", *ACTIONS), 0)
    points = []
    for bucket in buckets:
        for name in totals:
            totals[name] += getattr(bucket, name)
        points.append(TimePoint(at=bucket.at, **totals))
    return points
