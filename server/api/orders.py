"""Order updates from the shop's back end: transactional notifications, sent whatever the consent."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.api.endpoint import Call, endpoint
from server.errors import Problem
from server.protocol import ErrorCode
from server.push.customers import ExternalId
from server.store.inbox import Draft

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class OrderEvent(msgspec.Struct, forbid_unknown_fields=True):
    customer_id: ExternalId
    order_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    status: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    text: Text
    title: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    url: Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^https?://")] | None = None


class OrderEventOut(msgspec.Struct):
    # False when this (order, status) was already posted: it was not sent twice.
    stored: bool


@endpoint(
    "POST",
    "/api/v1/orders/events",
    summary="Tell a customer about their order (stored, pushed live,"
    " kept for their next visit; idempotent per order and status)",
    tag="orders",
    access="shop",
    scope="orders",
    roles=("admin",),
    body=OrderEvent,
    response=OrderEventOut,
    status=201,
)
async def order_event(call: Call) -> OrderEventOut:
    body: OrderEvent = call.body
    row = await call.node.customer_attributes.get(body.customer_id)
    if row is None:
        raise Problem(ErrorCode.NOT_FOUND, f"no customer {body.customer_id}; upsert them first")
    draft = Draft(
        kind="order",
        marketing=False,
        title=body.title or f"Order {body.order_id}: {body.status}",
        body=body.text,
        url=body.url,
        data={"order_id": body.order_id, "status": body.status},
        dedupe_key=f"order:{body.order_id}:{body.status}",
    )
    stored = await call.node.inbox.deliver([(row["id"], draft)])
    return OrderEventOut(stored=stored > 0)
