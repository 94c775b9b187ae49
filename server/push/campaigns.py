"""Campaigns: what marketers write (the models), and what they do with a campaign (the service).

A marketer creates a draft, previews it for a customer, sends or schedules it, and stops it.
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
from server.protocol import ErrorCode, PropValue, encode
from server.push import templates, vouchers
from server.push.customers import ExternalId
from server.push.segments import SegmentService, lapsed
from server.push.vouchers import VoucherSpec
from server.store.audience import AudienceStore, Everyone, Listed, Selection
from server.store.campaigns import CampaignFields, CampaignRecord, CampaignStore
from server.store.customers import CustomerAttributesStore

__all__ = [
    "Audience",
    "CampaignHint",
    "CampaignIn",
    "CampaignOut",
    "CampaignService",
    "PreviewIn",
    "PreviewOut",
    "SendIn",
    "Stats",
    "Trigger",
    "VoucherSpec",
    "campaign_context",
    "campaign_out",
    "selection_of",
]

log = logging.getLogger("rapport.campaigns")

CampaignKind = Literal["offer", "news", "product", "promotion", "survey", "reminder"]
Status = Literal["draft", "scheduled", "active", "stopped"]


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
    # The e-mail fallback: at this time, customers in the audience who consent and did not see
    # it live get it by e-mail (mail/fallback.py).
    email_after: dt.datetime | None = None


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
    email_after: int | None = None


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


class Stats(msgspec.Struct):
    recipients: int
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    dismissed: int = 0
    redeemed: int = 0


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
        email_after=campaign.email_after,
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
            raise Problem(ErrorCode.INVALID_REQUEST, "a customers audience lists customer_ids")
        return Listed(tuple(ids))
    if audience.type == "lapsed":
        if audience.days is None:
            raise Problem(ErrorCode.INVALID_REQUEST, "a lapsed audience needs days")
        return lapsed(audience.days)
    if audience.segment_id is None:
        raise Problem(ErrorCode.INVALID_REQUEST, "a segment audience needs segment_id")
    rules = await segments.rules(audience.segment_id)
    if rules is None:
        raise Problem(ErrorCode.INVALID_REQUEST, f"no segment {audience.segment_id}")
    return rules


class CampaignService:
    """What marketers do with campaigns: write, preview, send or schedule, stop, follow."""

    def __init__(
        self,
        store: CampaignStore,
        segments: SegmentService,
        audience: AudienceStore,
        customers: CustomerAttributesStore,
        broker: Broker,
    ) -> None:
        self._store = store
        self._segments = segments
        self._audience = audience
        self._customers = customers
        self._broker = broker

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

    async def get(self, campaign_id: str) -> CampaignOut:
        found = await self._store.get(campaign_id)
        if found is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no campaign {campaign_id}")
        return campaign_out(found)

    async def recent(self, limit: int, offset: int) -> list[CampaignOut]:
        """Campaigns, the newest first."""
        return [campaign_out(c) for c in await self._store.recent(limit, offset)]

    async def send(self, campaign_id: str, send_at: dt.datetime | None) -> CampaignOut:
        campaign = await self.get(campaign_id)
        if campaign.expires_at is not None and campaign.expires_at <= now_ms():
            raise Problem(ErrorCode.CONFLICT, "this campaign has expired")
        at = _ms(send_at)
        if at is not None and at > now_ms():
            moved = await self._store.schedule(campaign_id, at)
        else:
            moved = await self._store.start(campaign_id, now_ms())
        if not moved:
            raise Problem(ErrorCode.CONFLICT, f"a {campaign.status} campaign cannot be sent again")
        await self.announce(campaign_id)
        return await self.get(campaign_id)

    async def stop_campaign(self, campaign_id: str) -> CampaignOut:
        await self.get(campaign_id)
        if not await self._store.stop(campaign_id):
            raise Problem(ErrorCode.CONFLICT, "only scheduled or active campaigns can be stopped")
        await self.announce(campaign_id)
        return await self.get(campaign_id)

    async def preview(self, campaign_id: str, external_id: str) -> PreviewOut:
        campaign = await self.get(campaign_id)
        customer = await self._customers.get(external_id)
        if customer is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no customer {external_id}")
        member = await self._audience.includes(customer.id, await selection_of(campaign.audience, self._segments))
        voucher = None
        if campaign.voucher is not None:
            voucher = vouchers.context(
                campaign.voucher, "PREVIEW-CODE-0000", vouchers.expiry(campaign.voucher, campaign.expires_at)
            )
        context = templates.context_of(customer, voucher=voucher, campaign=campaign_context(campaign))
        return PreviewOut(
            customer_id=external_id,
            title=templates.render(campaign.title, context, field="title"),
            body=templates.render(campaign.body, context, field="body"),
            in_audience=member,
            marketing_consent=customer.marketing_consent,
        )

    async def stats(self, campaign_id: str) -> Stats:
        await self.get(campaign_id)
        counts = await self._store.counts(campaign_id)
        return Stats(**msgspec.structs.asdict(counts))

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
        if body.voucher is not None and body.voucher.kind == "percent" and body.voucher.amount > 100:
            raise Problem(ErrorCode.INVALID_REQUEST, "a percentage voucher is at most 100")
        if body.trigger is not None:
            t = body.trigger
            if t.type == "page" and not t.url_pattern:
                raise Problem(ErrorCode.INVALID_REQUEST, "a page trigger needs url_pattern")
            if t.type == "event" and not t.event:
                raise Problem(ErrorCode.INVALID_REQUEST, "an event trigger needs event")
        expires = _ms(body.expires_at)
        if expires is not None and expires <= now_ms():
            raise Problem(ErrorCode.INVALID_REQUEST, "expires_at is in the past")
        email_after = _ms(body.email_after)
        if email_after is not None and expires is not None and email_after >= expires:
            raise Problem(ErrorCode.INVALID_REQUEST, "email_after must come before expires_at")

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
            email_after=_ms(body.email_after),
        )
