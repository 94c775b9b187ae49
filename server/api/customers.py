"""Customers for the shop's back end: upsert one, read one, import many (JSON lines or CSV)."""

from __future__ import annotations

import json

import msgspec
from starlette.requests import Request

from server.api.endpoint import Call, Query, endpoint
from server.errors import Problem
from server.protocol import ErrorCode
from server.push.customers import CustomerIn, CustomerOut, ImportResult, InvalidCustomer, columns_of, import_lines
from server.store.db import Row


def customer_out(row: Row) -> CustomerOut:
    return CustomerOut(
        id=row["id"],
        external_id=row["external_id"],
        name=row["name"],
        email=row["email"],
        loyalty_points=row["loyalty_points"],
        tier=row["tier"],
        birthday=row["birthday"],
        last_order_at=row["last_order_at"],
        total_spent=row["total_spent"],
        tags=json.loads(row["tags"]),
        marketing_consent=bool(row["marketing_consent"]),
        timezone=row["timezone"],
        locale=row["locale"],
        attributes=json.loads(row["attributes"]),
        created_at=row["created_at"],
    )


async def _get(call: Call, external_id: str) -> CustomerOut:
    row = await call.node.customer_attributes.get(external_id)
    if row is None:
        raise Problem(ErrorCode.NOT_FOUND, f"no customer {external_id}")
    return customer_out(row)


@endpoint(
    "PUT",
    "/api/v1/customers/{external_id:str}",
    summary="Create or update a customer by the shop's id",
    tag="customers",
    access="shop",
    scope="customers",
    roles=("admin",),
    body=CustomerIn,
    response=CustomerOut,
)
async def upsert_customer(call: Call) -> CustomerOut:
    external_id = call.path["external_id"]
    if not external_id or len(external_id) > 64:
        raise Problem(ErrorCode.INVALID_REQUEST, "customer id must be 1 to 64 characters")
    try:
        columns = columns_of(call.body, source=f"api:{call.actor.id if call.actor else '?'}")
    except InvalidCustomer as exc:
        raise Problem(ErrorCode.INVALID_REQUEST, str(exc)) from None
    await call.node.customer_attributes.upsert_many([(external_id, columns)])
    return await _get(call, external_id)


@endpoint(
    "GET",
    "/api/v1/customers/{external_id:str}",
    summary="A customer by the shop's id",
    tag="customers",
    access="shop",
    scope="customers",
    roles=("admin", "marketer"),
    response=CustomerOut,
)
async def get_customer(call: Call) -> CustomerOut:
    return await _get(call, call.path["external_id"])


def _format(request: Request) -> str:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return "csv"
    if kind in ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/x-jsonlines"):
        return "jsonl"
    raise Problem(ErrorCode.INVALID_REQUEST, "send text/csv or application/x-ndjson")


@endpoint(
    "POST",
    "/api/v1/customers/import",
    summary="Import customers from JSON lines (application/x-ndjson) or CSV (text/csv); bad lines are"
    " reported, the rest imported",
    tag="customers",
    access="shop",
    scope="customers",
    roles=("admin",),
    response=ImportResult,
)
async def import_customers(call: Call) -> ImportResult:
    fmt = _format(call.request)
    limit = call.node.settings.max_bulk_bytes
    declared = call.request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(ErrorCode.TOO_LONG, f"bulk import larger than {limit} bytes")
    chunks = []
    size = 0
    async for chunk in call.request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(ErrorCode.TOO_LONG, f"bulk import larger than {limit} bytes")
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(ErrorCode.INVALID_REQUEST, "bulk import must be UTF-8") from None
    return await import_lines(
        call.node.customer_attributes, text, fmt, source=f"api:{call.actor.id if call.actor else '?'}"
    )


class NotificationTracked(msgspec.Struct):
    seq: int
    kind: str
    title: str
    campaign_id: str | None
    created_at: int
    actions: list[str]


class NotificationHistory(msgspec.Struct):
    notifications: list[NotificationTracked]


@endpoint(
    "GET",
    "/api/v1/customers/{external_id:str}/notifications",
    summary="What a customer was sent and did with it (delivered, opened, clicked, dismissed, redeemed)",
    tag="customers",
    access="shop",
    scope="customers",
    roles=("admin", "marketer"),
    response=NotificationHistory,
    query={"limit": Query(int, 100, "most recent first", low=1, high=1000)},
)
async def customer_notifications(call: Call) -> NotificationHistory:
    row = await call.node.customer_attributes.get(call.path["external_id"])
    if row is None:
        raise Problem(ErrorCode.NOT_FOUND, f"no customer {call.path['external_id']}")
    rows = await call.node.campaign_store.customer_history(row["id"], call.query["limit"])
    return NotificationHistory(
        notifications=[
            NotificationTracked(
                seq=r["seq"],
                kind=r["kind"],
                title=r["title"],
                campaign_id=r["campaign_id"],
                created_at=r["created_at"],
                actions=sorted((r["actions"] or "").split(",")) if r["actions"] else [],
            )
            for r in rows
        ]
    )
