"""Segments for marketers and the shop's back end: rules, counts, members, and the lapsed built-in."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from server.api.customers import customer_out
from server.api.endpoint import Call, Query, endpoint
from server.errors import Problem
from server.protocol import ErrorCode
from server.push.customers import CustomerOut
from server.push.segments import Condition, compile_condition, lapsed


class SegmentIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    rules: Condition


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


_MARKETERS = ("marketer", "admin")
_PAGE = {
    "limit": Query(int, 100, "page size", low=1, high=1000),
    "offset": Query(int, 0, "members to skip", low=0, high=10**9),
}


async def _out(call: Call, segment_id: str, name: str, rules: Condition) -> SegmentOut:
    where, params = compile_condition(rules)
    return SegmentOut(
        id=segment_id, name=name, rules=rules, members=await call.node.campaign_store.count_where(where, params)
    )


def _rules_json(rules: Condition) -> dict[str, Any]:
    compile_condition(rules)  # refuse a bad rule before storing it
    return dict(msgspec.to_builtins(rules))


@endpoint(
    "POST",
    "/api/v1/segments",
    summary="Create a segment",
    tag="segments",
    access="shop",
    scope="segments",
    roles=_MARKETERS,
    body=SegmentIn,
    response=SegmentOut,
    status=201,
)
async def create_segment(call: Call) -> SegmentOut:
    body: SegmentIn = call.body
    rules = _rules_json(body.rules)
    try:
        segment_id = await call.node.campaign_store.create_segment(body.name, rules)
    except Exception as exc:
        if "UNIQUE" in str(exc):
            raise Problem(ErrorCode.CONFLICT, f"a segment named {body.name!r} exists") from None
        raise
    return await _out(call, segment_id, body.name, body.rules)


@endpoint(
    "GET",
    "/api/v1/segments",
    summary="Segments with their member counts",
    tag="segments",
    access="shop",
    scope="segments",
    roles=_MARKETERS,
    response=SegmentList,
)
async def list_segments(call: Call) -> SegmentList:
    out = []
    for row in await call.node.campaign_store.segments():
        out.append(await _out(call, row["id"], row["name"], msgspec.json.decode(row["rules"], type=Condition)))
    return SegmentList(segments=out)


async def _segment(call: Call) -> tuple[str, Condition]:
    row = await call.node.campaign_store.segment(call.path["segment_id"])
    if row is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such segment")
    return row["name"], msgspec.json.decode(row["rules"], type=Condition)


@endpoint(
    "GET",
    "/api/v1/segments/{segment_id:str}",
    summary="A segment and its member count",
    tag="segments",
    access="shop",
    scope="segments",
    roles=_MARKETERS,
    response=SegmentOut,
)
async def get_segment(call: Call) -> SegmentOut:
    name, rules = await _segment(call)
    return await _out(call, call.path["segment_id"], name, rules)


@endpoint(
    "PUT",
    "/api/v1/segments/{segment_id:str}",
    summary="Change a segment",
    tag="segments",
    access="shop",
    scope="segments",
    roles=_MARKETERS,
    body=SegmentIn,
    response=SegmentOut,
)
async def update_segment(call: Call) -> SegmentOut:
    body: SegmentIn = call.body
    if not await call.node.campaign_store.update_segment(call.path["segment_id"], body.name, _rules_json(body.rules)):
        raise Problem(ErrorCode.NOT_FOUND, "no such segment")
    return await _out(call, call.path["segment_id"], body.name, body.rules)


@endpoint(
    "DELETE",
    "/api/v1/segments/{segment_id:str}",
    summary="Delete a segment",
    tag="segments",
    access="shop",
    scope="segments",
    roles=_MARKETERS,
)
async def delete_segment(call: Call) -> None:
    if not await call.node.campaign_store.delete_segment(call.path["segment_id"]):
        raise Problem(ErrorCode.NOT_FOUND, "no such segment")


async def _members(call: Call, rules: Condition) -> Members:
    where, params = compile_condition(rules)
    store = call.node.campaign_store
    rows = await store.members_where(where, params, call.query["limit"], call.query["offset"])
    return Members(total=await store.count_where(where, params), customers=[customer_out(r) for r in rows])


@endpoint(
    "GET",
    "/api/v1/segments/{segment_id:str}/members",
    summary="A segment's customers, paged",
    tag="segments",
    access="shop",
    scope="segments",
    roles=_MARKETERS,
    response=Members,
    query=_PAGE,
)
async def segment_members(call: Call) -> Members:
    _name, rules = await _segment(call)
    return await _members(call, rules)


@endpoint(
    "POST",
    "/api/v1/segments/preview",
    summary="Count and list the customers some rules select",
    tag="segments",
    access="shop",
    scope="segments",
    roles=_MARKETERS,
    body=Condition,
    response=Members,
    query=_PAGE,
)
async def preview_rules(call: Call) -> Members:
    return await _members(call, call.body)


@endpoint(
    "GET",
    "/api/v1/segments/builtin/lapsed",
    summary="Lapsed customers: no order for `days` days",
    tag="segments",
    access="shop",
    scope="segments",
    roles=_MARKETERS,
    response=Members,
    query={**_PAGE, "days": Query(int, 90, "days without an order", low=1, high=3650)},
)
async def lapsed_members(call: Call) -> Members:
    return await _members(call, lapsed(call.query["days"]))
