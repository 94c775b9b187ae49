"""Campaigns: who gets which personalised offer, news or survey, when, and exactly once.

A campaign that starts is announced to every process with one hint. Each process renders and
stores it for the customers connected to it now, so a broadcast costs in proportion to the
customers online, not to all customers in the store. Everyone else gets it when they next
connect, until it expires. Every delivery is a notification with the dedupe key
`campaign:<id>`: two tabs on two processes, a retried hint or a restart never send it twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import msgspec

from server import streams
from server.broker import Broker
from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode, NotificationKind, PropValue, VoucherInfo
from server.push import templates
from server.push.customers import ExternalId
from server.push.hooks import CustomerActivity
from server.push.inbox import InboxService
from server.push.segments import Condition, compile_condition, lapsed
from server.settings import Settings
from server.store.campaigns import CampaignStore
from server.store.db import Row, Tx
from server.store.inbox import DailyCap, Draft
from server.store.vouchers import VoucherStore

log = logging.getLogger("rapport.campaigns")

# A broadcast goes out in chunks of connected customers, a few in flight at once: small enough
# that the first customers get it within milliseconds, enough in flight to keep the store's
# writer thread and the event loop both busy.
_CHUNK = 250
_CHUNKS_IN_FLIGHT = 3

CampaignKind = Literal["offer", "news", "product", "promotion", "survey", "reminder"]
Status = Literal["draft", "scheduled", "active", "stopped"]
_KIND_OF: dict[str, NotificationKind] = {
    "offer": "offer",
    "news": "news",
    "product": "product",
    "promotion": "promotion",
    "survey": "survey",
    "reminder": "reminder",
}
_DAY_MS = 86_400_000
# Voucher codes: no 0/O, 1/I/L; 12 characters of 31 = 59 bits, from the OS's CSPRNG.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class Audience(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """`all` customers, a `segment`, listed `customers` (the shop's ids), or `lapsed` for `days`."""

    type: Literal["all", "segment", "customers", "lapsed"]
    segment_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    customer_ids: Annotated[list[ExternalId], msgspec.Meta(max_length=10000)] | None = None
    days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


class VoucherSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    kind: Literal["amount", "percent"]
    amount: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    valid_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


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


def _ms(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


def campaign_out(row: Row) -> CampaignOut:
    return CampaignOut(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        status=row["status"],
        audience=msgspec.json.decode(row["audience"], type=Audience),
        title=row["title_template"],
        body=row["body_template"],
        url=row["url"],
        voucher=msgspec.json.decode(row["voucher"], type=VoucherSpec) if row["voucher"] else None,
        trigger=msgspec.json.decode(row["trigger"], type=Trigger) if row["trigger"] else None,
        send_at=row["send_at"],
        started_at=row["started_at"],
        expires_at=row["expires_at"],
        created_at=row["created_at"],
    )


def new_voucher_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


class Active:
    """An active campaign as this process caches it, with its audience compiled once."""

    def __init__(self, out: CampaignOut, audience_sql: str, params: list[Any]) -> None:
        self.out = out
        self.audience_sql = audience_sql
        self.params = params


class CampaignService(CustomerActivity):
    def __init__(
        self,
        store: CampaignStore,
        inbox: InboxService,
        broker: Broker,
        settings: Settings,
        local_customers: Callable[[], list[str]],
        listen: Callable[[str, Callable[[str], None]], Awaitable[None]],
    ) -> None:
        self._store = store
        self._inbox = inbox
        self._broker = broker
        self._settings = settings
        self._local_customers = local_customers
        self._listen = listen
        self._active: dict[str, Active] = {}
        self._timers: dict[tuple[str, int], list[asyncio.TimerHandle]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._listen(streams.CAMPAIGNS, self._on_hint)
        await self.refresh()

    async def stop(self) -> None:
        for handles in self._timers.values():
            for handle in handles:
                handle.cancel()
        for task in list(self._tasks):
            task.cancel()

    # -------------------------------------------------------------- marketer actions

    async def create(self, body: CampaignIn, created_by: str) -> CampaignOut:
        await self._validate(body)
        campaign_id = await self._store.create(self._columns(body) | {"status": "draft", "created_by": created_by})
        return await self.get(campaign_id)

    async def update(self, campaign_id: str, body: CampaignIn) -> CampaignOut:
        await self.get(campaign_id)
        await self._validate(body)
        if not await self._store.update(campaign_id, self._columns(body), only_status=("draft", "scheduled")):
            raise Problem(ErrorCode.CONFLICT, "only draft or scheduled campaigns can be changed; stop and copy it")
        await self._announce(campaign_id)
        return await self.get(campaign_id)

    async def get(self, campaign_id: str) -> CampaignOut:
        row = await self._store.get(campaign_id)
        if row is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no campaign {campaign_id}")
        return campaign_out(row)

    async def send(self, campaign_id: str, send_at: dt.datetime | None) -> CampaignOut:
        campaign = await self.get(campaign_id)
        if campaign.expires_at is not None and campaign.expires_at <= now_ms():
            raise Problem(ErrorCode.CONFLICT, "this campaign has expired")
        at = _ms(send_at)
        if at is not None and at > now_ms():
            fields: dict[str, Any] = {"status": "scheduled", "send_at": at}
        else:
            fields = {"status": "active", "send_at": now_ms(), "started_at": now_ms()}
        if not await self._store.update(campaign_id, fields, only_status=("draft", "scheduled")):
            raise Problem(ErrorCode.CONFLICT, f"a {campaign.status} campaign cannot be sent again")
        await self._announce(campaign_id)
        return await self.get(campaign_id)

    async def stop_campaign(self, campaign_id: str) -> CampaignOut:
        await self.get(campaign_id)
        if not await self._store.update(campaign_id, {"status": "stopped"}, only_status=("scheduled", "active")):
            raise Problem(ErrorCode.CONFLICT, "only scheduled or active campaigns can be stopped")
        await self._announce(campaign_id)
        return await self.get(campaign_id)

    async def preview(self, campaign_id: str, external_id: str) -> PreviewOut:
        campaign = await self.get(campaign_id)
        row = await self._store.customer(external_id)
        if row is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no customer {external_id}")
        sql, params = await self._audience_sql(campaign.audience)
        member = await self._store.in_audience(row["id"], sql, params)
        voucher = None
        if campaign.voucher is not None:
            voucher = self._voucher_context(campaign, "PREVIEW-CODE-0000", self._voucher_expiry(campaign))
        context = templates.context_of(row, voucher=voucher, campaign=self._campaign_context(campaign))
        return PreviewOut(
            customer_id=external_id,
            title=templates.render(campaign.title, context, field="title"),
            body=templates.render(campaign.body, context, field="body"),
            in_audience=member,
            marketing_consent=bool(row["marketing_consent"]),
        )

    async def stats(self, campaign_id: str) -> Stats:
        await self.get(campaign_id)
        return msgspec.convert(await self._store.stats(campaign_id), Stats)

    async def _validate(self, body: CampaignIn) -> None:
        for field, source in (("title", body.title), ("body", body.body)):
            await templates.check(source, field=field, with_voucher=body.voucher is not None)
        await self._audience_sql(body.audience)
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

    def _columns(self, body: CampaignIn) -> dict[str, Any]:
        return {
            "name": body.name,
            "kind": body.kind,
            "audience": msgspec.json.encode(body.audience).decode(),
            "title_template": body.title,
            "body_template": body.body,
            "url": body.url,
            "voucher": msgspec.json.encode(body.voucher).decode() if body.voucher else None,
            "trigger": msgspec.json.encode(body.trigger).decode() if body.trigger else None,
            "expires_at": _ms(body.expires_at),
        }

    async def _audience_sql(self, audience: Audience) -> tuple[str, list[Any]]:
        if audience.type == "all":
            return "1 = 1", []
        if audience.type == "customers":
            ids = audience.customer_ids or []
            if not ids:
                raise Problem(ErrorCode.INVALID_REQUEST, "a customers audience lists customer_ids")
            return f"customers.external_id IN ({','.join('?' * len(ids))})", list(ids)
        if audience.type == "lapsed":
            if audience.days is None:
                raise Problem(ErrorCode.INVALID_REQUEST, "a lapsed audience needs days")
            return compile_condition(lapsed(audience.days))
        if audience.segment_id is None:
            raise Problem(ErrorCode.INVALID_REQUEST, "a segment audience needs segment_id")
        segment = await self._store.segment(audience.segment_id)
        if segment is None:
            raise Problem(ErrorCode.INVALID_REQUEST, f"no segment {audience.segment_id}")
        return compile_condition(msgspec.json.decode(segment["rules"], type=Condition))

    # -------------------------------------------------------------- delivery

    async def _announce(self, campaign_id: str) -> None:
        """Tell every process (this one included) that a campaign changed."""
        hint = json.dumps({"campaign": campaign_id})
        await self._broker.publish(streams.CAMPAIGNS, streams.frame_envelope(hint.encode()))

    def _on_hint(self, frame: str) -> None:
        try:
            campaign_id = str(json.loads(frame)["campaign"])
        except (ValueError, KeyError, TypeError):
            log.error("malformed campaign hint %r", frame[:200])
            return
        self._spawn(self._after_hint(campaign_id))

    async def _after_hint(self, campaign_id: str) -> None:
        await self.refresh()
        active = self._active.get(campaign_id)
        if active is not None and active.out.trigger is None:
            await self.deliver_to_connected(active)

    async def refresh(self) -> None:
        fresh: dict[str, Active] = {}
        for row in await self._store.active():
            out = campaign_out(row)
            try:
                sql, params = await self._audience_sql(out.audience)
            except Problem as exc:  # e.g. its segment was deleted: it reaches no one
                log.warning("campaign %s has no usable audience: %s", out.id, exc.message)
                continue
            fresh[out.id] = Active(out, sql, params)
        self._active = fresh

    async def start_due(self) -> None:
        """Scheduler job: scheduled campaigns whose time came start, announced once each."""
        for campaign_id in await self._store.start_due():
            await self._announce(campaign_id)

    async def catch_up(self) -> None:
        """After a broker outage a start hint may have been lost: deliver active campaigns to
        everyone connected here (idempotent: the dedupe key stops repeats)."""
        await self.refresh()
        for active in list(self._active.values()):
            if active.out.trigger is None:
                await self.deliver_to_connected(active)

    async def deliver_to_connected(self, active: Active) -> int:
        """This process's share of a broadcast: its connected customers, in chunks that overlap
        (one is rendered while the one before is written by the store's thread)."""
        customers = self._local_customers()
        chunks = [customers[start : start + _CHUNK] for start in range(0, len(customers), _CHUNK)]
        in_flight = asyncio.Semaphore(_CHUNKS_IN_FLIGHT)

        async def one(chunk: list[str]) -> int:
            async with in_flight:
                return await self.deliver(active, chunk, here=True)

        return sum(await asyncio.gather(*(one(chunk) for chunk in chunks)))

    async def deliver(
        self, active: Active, customer_ids: list[str], *, occurrence: str | None = None, here: bool = False
    ) -> int:
        """Render and store the campaign for those of these customers it may reach, then send.

        `here`: these customers are connected to this process, and every process is doing the
        same for its own (a broadcast): hand the result to local sockets only. Otherwise (one
        customer's trigger or connect) publish it, for their tabs on other processes.
        """
        campaign = active.out
        if campaign.expires_at is not None and campaign.expires_at <= now_ms():
            return 0
        dedupe_key = f"campaign:{campaign.id}" + (f":{occurrence}" if occurrence else "")
        rows = await self._store.eligible(
            campaign.id,
            customer_ids,
            active.audience_sql,
            active.params,
            self._settings.frequency_cap_per_day,
            dedupe_key=dedupe_key,
        )
        if not rows and not here:
            return 0
        codes = {row["id"]: new_voucher_code() for row in rows} if campaign.voucher else {}
        voucher_expires = self._voucher_expiry(campaign)  # once: the stored voucher and the frame agree
        drafts: list[tuple[str, Draft]] = []
        for row in rows:
            voucher = self._voucher_context(campaign, codes[row["id"]], voucher_expires) if campaign.voucher else None
            context = templates.context_of(row, voucher=voucher, campaign=self._campaign_context(campaign))
            try:
                title = templates.render(campaign.title, context, field="title")
                body = templates.render(campaign.body, context, field="body")
            except Problem as exc:  # checked at save time; kept from stopping the rest if data surprises
                log.error("campaign %s could not render for %s: %s", campaign.id, row["id"], exc.message)
                continue
            drafts.append(
                (
                    row["id"],
                    Draft(
                        kind=_KIND_OF[campaign.kind],
                        marketing=True,
                        title=title,
                        body=body,
                        url=campaign.url,
                        voucher=self._voucher_info(campaign, codes[row["id"]], voucher_expires)
                        if campaign.voucher
                        else None,
                        expires_at=self._expiry(campaign),
                        campaign_id=campaign.id,
                        dedupe_key=dedupe_key,
                    ),
                )
            )
        then = None
        if campaign.voucher is not None:
            spec = campaign.voucher

            def then(tx: Tx, stored: list[str]) -> None:
                VoucherStore.issue_many(
                    tx,
                    campaign.id,
                    {cid: codes[cid] for cid in stored},
                    kind=spec.kind,
                    amount=spec.amount,
                    currency=spec.currency,
                    expires_at=voucher_expires,
                )

        # The eligibility query above skips most of those past the cap cheaply; the store decides.
        cap = DailyCap(self._settings.frequency_cap_per_day, now_ms() - _DAY_MS)
        if here:
            return await self._inbox.deliver_here(customer_ids, drafts, dedupe_key, daily_cap=cap, then=then)
        return await self._inbox.deliver(drafts, daily_cap=cap, then=then)

    def _expiry(self, campaign: CampaignOut) -> int | None:
        return campaign.expires_at

    def _voucher_expiry(self, campaign: CampaignOut) -> int | None:
        spec = campaign.voucher
        if spec is not None and spec.valid_days is not None:
            return now_ms() + spec.valid_days * _DAY_MS
        return campaign.expires_at

    @staticmethod
    def _voucher_info(campaign: CampaignOut, code: str, expires: int | None) -> VoucherInfo:
        spec = campaign.voucher
        assert spec is not None  # noqa: S101
        return VoucherInfo(code=code, kind=spec.kind, amount=spec.amount, currency=spec.currency, expires_at=expires)

    def _voucher_context(self, campaign: CampaignOut, code: str, expires: int | None) -> dict[str, Any]:
        spec = campaign.voucher
        assert spec is not None  # noqa: S101
        return {
            "code": code,
            "kind": spec.kind,
            "amount": spec.amount,
            "currency": spec.currency,
            "expires_on": dt.datetime.fromtimestamp(expires / 1000, dt.UTC).date().isoformat() if expires else "",
        }

    @staticmethod
    def _campaign_context(campaign: CampaignOut) -> dict[str, Any]:
        expires = campaign.expires_at
        return {
            "name": campaign.name,
            "expires_on": dt.datetime.fromtimestamp(expires / 1000, dt.UTC).date().isoformat() if expires else "",
        }

    # -------------------------------------------------------------- customer activity

    async def on_connect(self, customer_id: str) -> None:
        for active in list(self._active.values()):
            if active.out.trigger is None:
                await self.deliver(active, [customer_id])

    async def on_page_view(self, customer_id: str, connection: int, url: str) -> None:
        key = (customer_id, connection)
        for handle in self._timers.pop(key, []):
            handle.cancel()
        loop = asyncio.get_running_loop()
        for active in list(self._active.values()):
            trigger = active.out.trigger
            if trigger is None or trigger.type != "page" or not trigger.url_pattern:
                continue
            if not fnmatch.fnmatchcase(url, trigger.url_pattern):
                continue
            if trigger.min_seconds == 0:
                await self._triggered(active, customer_id)
            else:
                handle = loop.call_later(trigger.min_seconds, self._fire_later, active, customer_id)
                self._timers.setdefault(key, []).append(handle)

    def _fire_later(self, active: Active, customer_id: str) -> None:
        self._spawn(self._triggered(active, customer_id))

    def on_disconnect(self, customer_id: str, connection: int) -> None:
        for handle in self._timers.pop((customer_id, connection), []):
            handle.cancel()

    async def on_event(self, customer_id: str, name: str, props: dict[str, PropValue]) -> None:
        for active in list(self._active.values()):
            trigger = active.out.trigger
            if trigger is None or trigger.type != "event" or trigger.event != name:
                continue
            if trigger.where and any(props.get(k) != v for k, v in trigger.where.items()):
                continue
            await self._triggered(active, customer_id)

    async def _triggered(self, active: Active, customer_id: str) -> None:
        trigger = active.out.trigger
        occurrence = uuid.uuid4().hex if trigger is not None and trigger.repeat else None
        await self.deliver(active, [customer_id], occurrence=occurrence)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("campaign task failed", exc_info=task.exception())
