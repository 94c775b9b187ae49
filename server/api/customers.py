"""Customers for the shop's back end: upsert one, read one, find some, import many (JSON lines or CSV)."""

from __future__ import annotations

from starlette.requests import Request

from server.api.endpoint import Call, Query, Resource, shop
from server.errors import Problem
from server.protocol import ErrorCode
from server.push.customers import CustomerIn, CustomerList, CustomerOut, ImportResult, NotificationHistory

resource = Resource("customers")


def _source(call: Call) -> str:
    return f"api:{call.actor.id if call.actor else '?'}"


@resource.endpoint(
    "PUT",
    "/api/v1/customers/{external_id:str}",
    summary="Create or update a customer by the shop's id",
    access=shop("customers", "admin"),
    body=CustomerIn,
    response=CustomerOut,
)
async def upsert_customer(call: Call) -> CustomerOut:
    body: CustomerIn = call.body
    return await call.node.shop_customers.upsert(call.path["external_id"], body, source=_source(call))


@resource.endpoint(
    "GET",
    "/api/v1/customers",
    summary="Find customers whose shop id, name or e-mail contains `q` (a picker's search)",
    access=shop("customers", "admin", "marketer"),
    response=CustomerList,
    query={
        "q": Query(str, "", "text to look for", max_length=100),
        "limit": Query(int, 20, "at most", low=1, high=100),
    },
)
async def find_customers(call: Call) -> CustomerList:
    return await call.node.shop_customers.search(call.query["q"], call.query["limit"])


@resource.endpoint(
    "GET",
    "/api/v1/customers/{external_id:str}",
    summary="A customer by the shop's id",
    access=shop("customers", "admin", "marketer"),
    response=CustomerOut,
)
async def get_customer(call: Call) -> CustomerOut:
    return await call.node.shop_customers.get(call.path["external_id"])


def _format(request: Request) -> str:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return "csv"
    if kind in ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/x-jsonlines"):
        return "jsonl"
    raise Problem(ErrorCode.INVALID_REQUEST, "send text/csv or application/x-ndjson")


@resource.endpoint(
    "POST",
    "/api/v1/customers/import",
    summary="Import customers from JSON lines (application/x-ndjson) or CSV (text/csv); bad lines are"
    " reported, the rest imported",
    access=shop("customers", "admin"),
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
    return await call.node.shop_customers.import_lines(text, fmt, source=_source(call))


@resource.endpoint(
    "GET",
    "/api/v1/customers/{external_id:str}/notifications",
    summary="What a customer was sent and did with it (delivered, opened, clicked, dismissed, redeemed)",
    access=shop("customers", "admin", "marketer"),
    response=NotificationHistory,
    query={"limit": Query(int, 100, "most recent first", low=1, high=1000)},
)
async def customer_notifications(call: Call) -> NotificationHistory:
    return await call.node.shop_customers.notifications(call.path["external_id"], call.query["limit"])
