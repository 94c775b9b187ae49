"""Order updates from the shop's back end: transactional notifications, sent whatever the consent."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.protocol import OrderStatus
from server.push.customers import CustomerService, ExternalId
from server.push.inbox import InboxService
from server.store.inbox import Draft, InboxStore

# How many orders the widget lists: the most recently updated.
RECENT_ORDERS = 10

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


class OrderUpdates:
    """An order's news reaches its customer's inbox once per (order, status), live or later."""

    def __init__(self, customers: CustomerService, inbox: InboxService, store: InboxStore) -> None:
        self._customers = customers
        self._inbox = inbox
        self._store = store

    async def recent(self, customer_id: str) -> list[OrderStatus]:
        """A customer's recent orders (internal id), each with its latest status: read from the
        order updates the shop posted, so the widget needs no order API of the shop's."""
        return await self._store.orders(customer_id, RECENT_ORDERS)

    async def post(self, event: OrderEvent) -> OrderEventOut:
        customer = await self._customers.find(event.customer_id, missing="; upsert them first")
        draft = Draft(
            kind="order",
            marketing=False,
            title=event.title or f"Order {event.order_id}: {event.status}",
            body=event.text,
            url=event.url,
            data={"order_id": event.order_id, "status": event.status},
            dedupe_key=f"order:{event.order_id}:{event.status}",
        )
        stored = await self._inbox.deliver([(customer.id, draft)])
        return OrderEventOut(stored=stored > 0)
