"""Order updates from the shop's back end: transactional notifications, sent whatever the consent."""

from __future__ import annotations

from server.api.endpoint import Call, Resource, shop
from server.push.orders import OrderEvent, OrderEventOut

resource = Resource("orders")


@resource.endpoint(
    "POST",
    "/api/v1/orders/events",
    summary="Tell a customer about their order (stored, pushed live,"
    " kept for their next visit; idempotent per order and status)",
    access=shop("orders", "admin"),
    body=OrderEvent,
    response=OrderEventOut,
    status=201,
)
async def order_event(call: Call) -> OrderEventOut:
    body: OrderEvent = call.body
    return await call.node.orders.post(body)
