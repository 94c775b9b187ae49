"""Segments for marketers and the shop's back end: rules, counts, members, and the lapsed built-in."""

from __future__ import annotations

from server.api.endpoint import Call, Query, Resource, shop
from server.push.segments import AttributeCatalogue, Members, SegmentDraft, SegmentIn, SegmentList, SegmentOut

resource = Resource("segments")
SEGMENTS = shop("segments", "marketer", "admin")
_PAGE = {
    "limit": Query(int, 100, "page size", low=1, high=1000),
    "offset": Query(int, 0, "members to skip", low=0, high=10**9),
}


@resource.endpoint(
    "POST",
    "/api/v1/segments",
    summary="Create a segment",
    access=SEGMENTS,
    body=SegmentIn,
    response=SegmentOut,
    status=201,
)
async def create_segment(call: Call) -> SegmentOut:
    return await call.node.segments.create(call.body)


@resource.endpoint(
    "GET",
    "/api/v1/segments",
    summary="Segments with their member counts",
    access=SEGMENTS,
    response=SegmentList,
)
async def list_segments(call: Call) -> SegmentList:
    return await call.node.segments.all()


@resource.endpoint(
    "GET",
    "/api/v1/segments/attributes",
    summary="What a rule may name (the shop's, behaviour, custom attributes seen) and its operators",
    access=SEGMENTS,
    response=AttributeCatalogue,
)
async def segment_attributes(call: Call) -> AttributeCatalogue:
    return await call.node.segments.attributes()


@resource.endpoint(
    "GET",
    "/api/v1/segments/{segment_id:str}",
    summary="A segment and its member count",
    access=SEGMENTS,
    response=SegmentOut,
)
async def get_segment(call: Call) -> SegmentOut:
    return await call.node.segments.get(call.path["segment_id"])


@resource.endpoint(
    "PUT",
    "/api/v1/segments/{segment_id:str}",
    summary="Change a segment",
    access=SEGMENTS,
    body=SegmentIn,
    response=SegmentOut,
)
async def update_segment(call: Call) -> SegmentOut:
    return await call.node.segments.update(call.path["segment_id"], call.body)


@resource.endpoint("DELETE", "/api/v1/segments/{segment_id:str}", summary="Delete a segment", access=SEGMENTS)
async def delete_segment(call: Call) -> None:
    await call.node.segments.delete(call.path["segment_id"])


@resource.endpoint(
    "GET",
    "/api/v1/segments/{segment_id:str}/members",
    summary="A segment's customers, paged",
    access=SEGMENTS,
    response=Members,
    query=_PAGE,
)
async def segment_members(call: Call) -> Members:
    return await call.node.segments.members(call.path["segment_id"], call.query["limit"], call.query["offset"])


@resource.endpoint(
    "POST",
    "/api/v1/segments/preview",
    summary="Count and list the customers a segment being edited selects (the body of create, name optional)",
    access=SEGMENTS,
    body=SegmentDraft,
    response=Members,
    query=_PAGE,
)
async def preview_rules(call: Call) -> Members:
    return await call.node.segments.preview(call.body, call.query["limit"], call.query["offset"])


@resource.endpoint(
    "GET",
    "/api/v1/segments/builtin/lapsed",
    summary="Lapsed customers: no order for `days` days",
    access=SEGMENTS,
    response=Members,
    query={**_PAGE, "days": Query(int, 90, "days without an order", low=1, high=3650)},
)
async def lapsed_members(call: Call) -> Members:
    return await call.node.segments.lapsed(call.query["days"], call.query["limit"], call.query["offset"])
