"""Voucher pools: vouchers a marketer issues to a segment, or imports, outside any campaign.

A pool is one offer (a percentage, or an amount in a currency, until an expiry date); its codes
are drawn by Rapport or imported from another system. Issuing it to a segment runs in the
background, in batches of `BATCH` members, each one write transaction (store/voucher_pools.py):
the request that starts it answers at once, and no batch holds the store for long. Each member
who consents to marketing receives their code as an offer in their widget inbox (the campaigns'
`notification` frame, with its `voucher`), and the shop sees it through
`GET /api/v1/customers/{id}/vouchers`; redeeming it is the one redemption of every voucher
(`VoucherService.redeem`), so the pool's counts see it at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Annotated, Literal

import msgspec

from server.background import Background
from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode, VoucherInfo
from server.push.inbox import InboxService
from server.push.segments import Condition, SegmentService
from server.push.vouchers import new_code
from server.store.inbox import Draft
from server.store.voucher_pools import IssueRecord, NameTaken, PoolCode, PoolFields, PoolRecord, PoolStore

log = logging.getLogger("rapport.push")

# Members per write transaction of an issue: a few milliseconds of the writer each.
BATCH = 500
# Most codes one import or one CSV export carries.
MAX_IMPORT = 10_000
MAX_EXPORT = 100_000
# What an imported code may be (after trimming and upper-casing): safe in a URL path and a CSV cell.
_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{2,30}[A-Z0-9]")

Code = Annotated[str, msgspec.Meta(max_length=64)]


class PoolIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    kind: Literal["amount", "percent"]
    amount: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] | None = None
    expires_at: dt.datetime | None = None
    one_per_customer: bool = True
    source: Literal["generated", "imported"] = "generated"


class PoolOut(msgspec.Struct):
    id: str
    name: str
    kind: str
    amount: float
    currency: str | None
    expires_at: int | None
    one_per_customer: bool
    source: str
    created_at: int
    # Imported codes not issued yet (0 once the pool expired); None: Rapport draws codes, no limit.
    available: int | None
    issued: int
    redeemed: int
    # Issued and not redeemed before the expiry, with the imported codes never issued.
    expired: int


class PoolList(msgspec.Struct):
    pools: list[PoolOut]


class IssueIn(msgspec.Struct, forbid_unknown_fields=True):
    segment_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class IssueOut(msgspec.Struct):
    id: str
    pool_id: str
    segment_id: str
    status: str
    members: int  # members of the segment gone through so far
    issued: int
    already_held: int  # held a code of this one-per-customer pool already
    no_consent: int  # no marketing consent: nothing sent
    no_code: int  # an imported pool ran out of codes
    started_at: int
    finished_at: int | None


class IssueList(msgspec.Struct):
    issues: list[IssueOut]


class CodesIn(msgspec.Struct, forbid_unknown_fields=True):
    """Codes to import, one per item (the console sends a pasted or uploaded list line by line)."""

    codes: Annotated[list[Code], msgspec.Meta(min_length=1, max_length=MAX_IMPORT)]


class ImportOut(msgspec.Struct):
    imported: int
    duplicates: list[str]


class CodeOut(msgspec.Struct):
    code: str
    status: Literal["available", "issued", "redeemed", "expired"]
    customer: str | None
    customer_name: str | None
    issued_at: int | None
    redeemed_at: int | None
    redeemed_order: str | None
    expires_at: int | None


class CodePage(msgspec.Struct):
    total: int
    codes: list[CodeOut]


def _ms(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


def _at(field: str, text: str) -> Problem:
    """An invalid request naming its field the way msgspec does (`- at `$.field``), so a form
    shows every refusal beside its field."""
    return Problem(ErrorCode.INVALID_REQUEST, f"{text} - at `$.{field}`")


def _value(kind: str, amount: float, currency: str | None) -> str:
    shown = int(amount) if amount.is_integer() else amount
    return f"{shown}% off" if kind == "percent" else f"{shown} {currency} off"


def _pool_out(p: PoolRecord) -> PoolOut:
    expired_pool = p.expires_at is not None and p.expires_at <= now_ms()
    available = p.available if p.source == "imported" else None
    expired = p.expired
    if expired_pool and available:
        expired, available = expired + available, 0
    return PoolOut(
        id=p.id,
        name=p.name,
        kind=p.kind,
        amount=p.amount,
        currency=p.currency,
        expires_at=p.expires_at,
        one_per_customer=p.one_per_customer,
        source=p.source,
        created_at=p.created_at,
        available=available,
        issued=p.issued,
        redeemed=p.redeemed,
        expired=expired,
    )


def _issue_out(i: IssueRecord) -> IssueOut:
    return IssueOut(
        id=i.id,
        pool_id=i.pool_id,
        segment_id=i.segment_id,
        status=i.status,
        members=i.members,
        issued=i.issued,
        already_held=i.already_held,
        no_consent=i.no_consent,
        no_code=i.no_code,
        started_at=i.started_at,
        finished_at=i.finished_at,
    )


def _code_out(c: PoolCode, now: int) -> CodeOut:
    status: Literal["available", "issued", "redeemed", "expired"]
    if c.redeemed_at is not None:
        status = "redeemed"
    elif c.expires_at is not None and c.expires_at <= now:
        status = "expired"
    else:
        status = "issued" if c.issued_at is not None else "available"
    return CodeOut(
        code=c.code,
        status=status,
        customer=c.customer,
        customer_name=c.customer_name,
        issued_at=c.issued_at,
        redeemed_at=c.redeemed_at,
        redeemed_order=c.redeemed_order,
        expires_at=c.expires_at,
    )


def _drafts(pool: PoolOut) -> Callable[[VoucherInfo], Draft]:
    """The offer that carries each code of this pool to its customer's widget."""
    value = _value(pool.kind, pool.amount, pool.currency)
    until = (
        f", valid until {dt.datetime.fromtimestamp(pool.expires_at / 1000, dt.UTC).date().isoformat()}"
        if pool.expires_at is not None
        else ""
    )

    def draft(voucher: VoucherInfo) -> Draft:
        return Draft(
            kind="offer",
            marketing=True,
            title=f"A voucher for you: {value}",
            body=f"Use {voucher.code} at checkout{until}.",
            voucher=voucher,
            expires_at=pool.expires_at,
            data={"pool_id": pool.id},
        )

    return draft


def valid_codes(lines: list[str]) -> list[str]:
    """Codes as stored (trimmed, upper case; blank lines dropped); Problem naming the bad lines."""
    codes: list[str] = []
    bad: list[str] = []
    for number, line in enumerate(lines, 1):
        code = line.strip().upper()
        if not code:
            continue
        if _CODE.fullmatch(code):
            codes.append(code)
        elif len(bad) < 5:
            bad.append(f"line {number}: {line.strip()[:40]!r}")
    if bad:
        raise _at("codes", "not a code (4 to 32 letters, digits and dashes): " + "; ".join(bad))
    if not codes:
        raise _at("codes", "no codes in the list")
    return codes


class VoucherPools:
    """Marketers create pools, import codes, issue pools to segments and follow their counts."""

    def __init__(self, store: PoolStore, segments: SegmentService, inbox: InboxService) -> None:
        self._store = store
        self._segments = segments
        self._inbox = inbox
        self._tasks = Background(log, "voucher pool issue")

    async def create(self, body: PoolIn, created_by: str | None) -> PoolOut:
        if body.kind == "percent" and body.amount > 100:
            raise _at("amount", "a percentage is at most 100")
        if body.kind == "amount" and body.currency is None:
            raise _at("currency", "an amount needs its currency (three letters, e.g. EUR)")
        if body.kind == "percent" and body.currency is not None:
            raise _at("currency", "a percentage has no currency")
        expires = _ms(body.expires_at)
        if expires is not None and expires <= now_ms():
            raise _at("expires_at", "the expiry is in the past")
        fields = PoolFields(
            name=body.name.strip(),
            kind=body.kind,
            amount=body.amount,
            currency=body.currency,
            expires_at=expires,
            one_per_customer=body.one_per_customer,
            source=body.source,
            created_by=created_by,
        )
        if not fields.name:
            raise _at("name", "a pool needs a name")
        try:
            pool_id = await self._store.create(fields)
        except NameTaken:
            raise Problem(ErrorCode.CONFLICT, f"a pool named {fields.name!r} exists - at `$.name`") from None
        return await self.get(pool_id)

    async def all(self) -> PoolList:
        return PoolList(pools=[_pool_out(p) for p in await self._store.all()])

    async def get(self, pool_id: str) -> PoolOut:
        return _pool_out(await self._find(pool_id))

    async def codes(self, pool_id: str, limit: int, offset: int) -> CodePage:
        pool = await self._find(pool_id)
        now = now_ms()
        rows = await self._store.codes(pool_id, limit, offset, pool.issued)
        return CodePage(total=pool.issued + pool.available, codes=[_code_out(c, now) for c in rows])

    async def export(self, pool_id: str) -> tuple[PoolOut, list[CodeOut]]:
        """The pool and its codes (at most MAX_EXPORT), for a CSV download."""
        pool = await self.get(pool_id)
        now = now_ms()
        return pool, [_code_out(c, now) for c in await self._store.codes(pool_id, MAX_EXPORT, 0, pool.issued)]

    async def import_codes(self, pool_id: str, body: CodesIn) -> ImportOut:
        pool = await self._find(pool_id)
        if pool.source != "imported":
            raise Problem(ErrorCode.CONFLICT, "this pool draws its own codes: import into a pool of imported codes")
        imported = await self._store.import_codes(pool_id, valid_codes(body.codes))
        return ImportOut(imported=imported.imported, duplicates=imported.duplicates)

    async def issue(self, pool_id: str, body: IssueIn) -> IssueOut:
        """Start issuing the pool to a segment's members; the answer comes at once, the work goes
        on in batches (follow it with `issues`)."""
        pool = _pool_out(await self._find(pool_id))
        rules = await self._segments.rules(body.segment_id)
        if rules is None:
            raise Problem(ErrorCode.NOT_FOUND, "no such segment - at `$.segment_id`")
        if pool.expires_at is not None and pool.expires_at <= now_ms():
            raise Problem(ErrorCode.CONFLICT, "this pool has expired: its codes can no longer be issued")
        if pool.available == 0:
            raise Problem(ErrorCode.CONFLICT, "no codes left to issue: import some first")
        started = await self._store.start_issue(pool_id, body.segment_id)
        self._tasks.spawn(self._run(started.id, rules, _drafts(pool)))
        return _issue_out(started)

    async def resume(self) -> None:
        """Go on with the issues a stopped process left running (at start). Each batch recorded
        where it ended in its own transaction, and the dedupe key holds per issue, so an issue
        taken up here while another process still runs it gives nobody a second code."""
        for issue in await self._store.running_issues():
            pool = await self._store.get(issue.pool_id)
            rules = await self._segments.rules(issue.segment_id)
            if pool is None or rules is None or (pool.expires_at is not None and pool.expires_at <= now_ms()):
                await self._store.fail_issue(issue.id)
                continue
            self._tasks.spawn(self._run(issue.id, rules, _drafts(_pool_out(pool))))

    async def issues(self, pool_id: str, limit: int) -> IssueList:
        await self._find(pool_id)
        return IssueList(issues=[_issue_out(i) for i in await self._store.issues(pool_id, limit)])

    async def stop(self) -> None:
        await self._tasks.stop()

    async def _run(self, issue_id: str, rules: Condition, draft: Callable[[VoucherInfo], Draft]) -> None:
        try:
            while True:
                batch = await self._store.issue_batch(issue_id, rules, BATCH, draft, new_code)
                # Store, then publish: each batch's notifications once committed.
                await self._inbox.publish(batch.deliveries)
                if batch.done:
                    return
                await asyncio.sleep(0)
        except Exception:
            await self._store.fail_issue(issue_id)
            raise

    async def _find(self, pool_id: str) -> PoolRecord:
        found = await self._store.get(pool_id)
        if found is None:
            raise Problem(ErrorCode.NOT_FOUND, "no such voucher pool")
        return found
