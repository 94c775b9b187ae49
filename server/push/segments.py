"""Segments: the shop's rules on what it knows of its customers, kept, counted and listed for marketers.

The rule model (`Condition`) and its compiler live in store/audience.py, the one place that turns
rules into SQL; this module re-exports the model for the API and turns a refused rule into the
marketer's error. The same compiled rules count a segment, list it, and pick a campaign's audience.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from server.errors import Problem
from server.protocol import ErrorCode
from server.push.customers import CustomerOut, customer_out
from server.store.audience import (
    BEHAVIOUR,
    FIELDS,
    OPS_BY_KIND,
    AudienceStore,
    BadRule,
    Condition,
    Selection,
    attribute_field,
    check,
    field_kind,
)
from server.store.campaigns import NameTaken, SegmentStore

__all__ = [
    "Attribute",
    "AttributeCatalogue",
    "Condition",
    "Members",
    "OpInfo",
    "SegmentDraft",
    "SegmentIn",
    "SegmentList",
    "SegmentOut",
    "SegmentService",
    "lapsed",
    "valid",
]


class SegmentIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    rules: Condition


class SegmentDraft(msgspec.Struct, forbid_unknown_fields=True):
    """A segment being edited, as a preview takes it: the body of create and change, with the
    name optional (one body shape for preview and save)."""

    rules: Condition
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class Attribute(msgspec.Struct):
    """A field a rule may name: the shop's attributes, behaviour Rapport sees, custom attributes."""

    field: str
    label: str
    group: Literal["shop", "behaviour", "custom"]
    kind: str
    ops: list[str]
    # Custom attributes only: how many customers have it.
    customers: int | None = None
    # Values customers have now, the most held first (tiers, tags): suggestions, not a limit.
    values: list[str] | None = None


class OpInfo(msgspec.Struct):
    """An operator, its words, and the value it takes: one, a list, a number of days, text, a month
    (1 to 12) or none."""

    op: str
    label: str
    value: Literal["one", "list", "days", "text", "month", "none"]


class AttributeCatalogue(msgspec.Struct):
    fields: list[Attribute]
    ops: list[OpInfo]


_LABELS = {
    "name": "Name",
    "email": "E-mail",
    "loyalty_points": "Loyalty points",
    "tier": "Tier",
    "birthday": "Birthday",
    "last_order_at": "Last order",
    "created_at": "Customer since",
    "total_spent": "Total spent",
    "tags": "Tags",
    "marketing_consent": "Marketing consent",
    "timezone": "Time zone",
    "locale": "Language",
    "last_seen_at": "Last seen on the site",
    "pages_viewed": "Pages viewed",
    "viewed_page": "Viewed a page",
    "vouchers_redeemed": "Vouchers redeemed",
}
_OPS = [
    OpInfo("eq", "is", "one"),
    OpInfo("ne", "is not", "one"),
    OpInfo("in", "is one of", "list"),
    OpInfo("contains", "contains", "text"),
    OpInfo("gt", "more than", "one"),
    OpInfo("gte", "at least", "one"),
    OpInfo("lt", "less than", "one"),
    OpInfo("lte", "at most", "one"),
    OpInfo("days_since_gt", "more than … days ago", "days"),
    OpInfo("days_since_lt", "less than … days ago", "days"),
    OpInfo("has_tag", "has tag", "one"),
    OpInfo("month_is", "is in month", "month"),
    OpInfo("exists", "is set", "none"),
]


class SegmentOut(msgspec.Struct):
    id: str
    name: str
    rules: Condition
    members: int


class SegmentList(msgspec.Struct):
    segments: list[SegmentOut]


class Members(msgspec.Struct):
    total: int
    customers: list[CustomerOut]


def valid(rules: Condition) -> Condition:
    """`rules`, if the compiler takes them; else Problem(invalid_request) saying why."""
    try:
        check(rules)
    except BadRule as exc:
        raise Problem(ErrorCode.INVALID_REQUEST, f"bad rule: {exc}") from None
    return rules


def lapsed(days: int) -> Condition:
    """The built-in "lapsed customers" segment: no order for `days` days (win-back offers)."""
    return Condition(field="last_order_at", op="days_since_gt", value=days)


class SegmentService:
    def __init__(self, segments: SegmentStore, audience: AudienceStore) -> None:
        self._segments = segments
        self._audience = audience

    async def create(self, body: SegmentIn) -> SegmentOut:
        try:
            segment_id = await self._segments.create(body.name, valid(body.rules))
        except NameTaken:
            raise Problem(ErrorCode.CONFLICT, f"a segment named {body.name!r} exists") from None
        return await self._out(segment_id, body.name, body.rules)

    async def all(self) -> SegmentList:
        """Every segment, by name, with its member count."""
        return SegmentList(segments=[await self._out(s.id, s.name, s.rules) for s in await self._segments.all()])

    async def get(self, segment_id: str) -> SegmentOut:
        name, rules = await self._find(segment_id)
        return await self._out(segment_id, name, rules)

    async def update(self, segment_id: str, body: SegmentIn) -> SegmentOut:
        rules = valid(body.rules)
        try:
            changed = await self._segments.update(segment_id, body.name, rules)
        except NameTaken:
            raise Problem(ErrorCode.CONFLICT, f"a segment named {body.name!r} exists") from None
        if not changed:
            raise Problem(ErrorCode.NOT_FOUND, "no such segment")
        return await self._out(segment_id, body.name, rules)

    async def delete(self, segment_id: str) -> None:
        if not await self._segments.delete(segment_id):
            raise Problem(ErrorCode.NOT_FOUND, "no such segment")

    async def members(self, segment_id: str, limit: int, offset: int) -> Members:
        _name, rules = await self._find(segment_id)
        return await self._members(rules, limit, offset)

    async def preview(self, draft: SegmentDraft, limit: int, offset: int) -> Members:
        """The customers a segment being edited selects, before it is saved."""
        return await self._members(valid(draft.rules), limit, offset)

    async def attributes(self) -> AttributeCatalogue:
        """What a rule may name and how it compares, with the custom attributes customers have now."""
        common = await self._audience.common_values()
        fields = [
            Attribute(
                field=f,
                label=_LABELS.get(f, f),
                group="behaviour" if f in BEHAVIOUR else "shop",
                kind=field_kind(f),
                ops=list(OPS_BY_KIND[field_kind(f)]),
                values=common.get(f),
            )
            for f in FIELDS
        ]
        for key in await self._audience.attribute_keys():
            field = attribute_field(key.key)
            if field is None:
                continue
            ops = OPS_BY_KIND["text" if key.kind == "text" else key.kind]
            fields.append(
                Attribute(
                    field=field, label=key.key, group="custom", kind=key.kind, ops=[*ops], customers=key.customers
                )
            )
        return AttributeCatalogue(fields=fields, ops=_OPS)

    async def lapsed(self, days: int, limit: int, offset: int) -> Members:
        return await self._members(lapsed(days), limit, offset)

    async def rules(self, segment_id: str) -> Condition | None:
        """A segment's rules, as stored now; None: no such segment."""
        found = await self._segments.get(segment_id)
        return found.rules if found is not None else None

    async def _find(self, segment_id: str) -> tuple[str, Condition]:
        found = await self._segments.get(segment_id)
        if found is None:
            raise Problem(ErrorCode.NOT_FOUND, "no such segment")
        return found.name, found.rules

    async def _members(self, selection: Selection, limit: int, offset: int) -> Members:
        try:
            customers = await self._audience.members(selection, limit, offset)
            total = await self._audience.count(selection)
        except BadRule as exc:  # rules stored before a stricter compiler
            raise Problem(ErrorCode.INVALID_REQUEST, f"bad rule: {exc}") from None
        return Members(total=total, customers=[customer_out(c) for c in customers])

    async def _out(self, segment_id: str, name: str, rules: Condition) -> SegmentOut:
        try:
            members = await self._audience.count(rules)
        except BadRule as exc:
            raise Problem(ErrorCode.INVALID_REQUEST, f"bad rule: {exc}") from None
        return SegmentOut(id=segment_id, name=name, rules=rules, members=members)
