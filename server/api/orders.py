"""Order updates from the shop's back end: transactional notifications, sent whatever the consent."""

from __future__ import annotations

from server.api.endpoint import Call, endpoint
from server.push.orders import OrderEvent, OrderEventOut


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
    return await call.node.orders.post(body)
