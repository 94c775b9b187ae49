"""What the shop knows of the customer of a conversation, shown beside the chat in the console.

Who they are (identified by the shop or an anonymous visitor), their loyalty points and tier,
tags and spending, their latest orders with each one's latest status, the vouchers they were
issued and redeemed, the page they are on and the pages they came through, their previous
conversations (readable ones can be opened read-only) and the satisfaction they gave.
"""

from __future__ import annotations

import msgspec

from server.chat.access import Actor, can_read_history
from server.chat.inbox_views import InboxViews
from server.chat.page_views import PageViews, PageVisit
from server.protocol import ConversationSummary, OrderStatus
from server.store.conversations import ConversationStore
from server.store.customers import CustomerAttributesStore
from server.store.inbox import InboxStore
from server.store.satisfaction import SatisfactionScore, SatisfactionStore
from server.store.vouchers import VoucherStore

ORDERS = 10
VOUCHERS = 20
PAGES = 10
CONVERSATIONS = 20


class VoucherLine(msgspec.Struct):
    code: str
    kind: str
    amount: float
    currency: str | None
    expires_at: int | None
    created_at: int
    redeemed_at: int | None
    redeemed_order: str | None


class PreviousConversation(msgspec.Struct):
    # Another agent's open conversation comes without its preview.
    conversation: ConversationSummary
    # Whether this reader may open it (read-only unless it is theirs).
    readable: bool


class CustomerPanelOut(msgspec.Struct):
    customer_id: str
    # The shop's id for them; null for an anonymous visitor.
    external_id: str | None
    identified: bool
    name: str | None
    email: str | None
    loyalty_points: int
    tier: str | None
    tags: list[str]
    total_spent: float
    last_order_at: int | None
    locale: str | None
    created_at: int
    orders: list[OrderStatus]
    vouchers: list[VoucherLine]
    # Newest first: the first is the page they are on (or were on last).
    pages: list[PageVisit]
    conversations: list[PreviousConversation]
    # For this conversation and their previous ones, once given; the latest first.
    satisfaction: list[SatisfactionScore]


class CustomerPanel:
    def __init__(
        self,
        views: InboxViews,
        conversations: ConversationStore,
        customers: CustomerAttributesStore,
        inbox: InboxStore,
        vouchers: VoucherStore,
        pages: PageViews,
        satisfaction: SatisfactionStore,
    ) -> None:
        self._views = views
        self._conversations = conversations
        self._customers = customers
        self._inbox = inbox
        self._vouchers = vouchers
        self._pages = pages
        self._satisfaction = satisfaction

    async def of_conversation(self, actor: Actor, conversation_id: str) -> CustomerPanelOut:
        """The panel of a conversation's customer, for whoever may read that conversation."""
        current = await self._views.readable_history(actor, conversation_id)
        customer_id = current.customer_id
        found = await self._customers.by_ids([customer_id])
        others = [c for c in await self._conversations.for_customer(customer_id, CONVERSATIONS) if c.id != current.id]
        holds = await self._conversations.holds_customer(actor.id, customer_id)
        previous = []
        for summary in others:
            readable = can_read_history(actor, summary, holds_customer=holds)
            shown = summary if readable else msgspec.structs.replace(summary, preview=None)
            previous.append(PreviousConversation(conversation=shown, readable=readable))
        scores = await self._satisfaction.of_conversations([current.id, *(c.id for c in others)])
        orders = await self._inbox.orders(customer_id, ORDERS)
        vouchers = [
            VoucherLine(
                code=v.code,
                kind=v.kind,
                amount=v.amount,
                currency=v.currency,
                expires_at=v.expires_at,
                created_at=v.created_at,
                redeemed_at=v.redeemed_at,
                redeemed_order=v.redeemed_order,
            )
            for v in await self._vouchers.of_customer(customer_id, VOUCHERS)
        ]
        pages = await self._pages.latest(customer_id, PAGES)
        if not found:  # a visitor whose record is not readable yet: what the conversation says
            return CustomerPanelOut(
                customer_id=customer_id, external_id=None, identified=False, name=current.customer_name, email=None,
                loyalty_points=0, tier=None, tags=[], total_spent=0.0, last_order_at=None, locale=None,
                created_at=current.created_at, orders=orders, vouchers=vouchers, pages=pages,
                conversations=previous, satisfaction=scores,
            )  # fmt: skip
        customer = found[0]
        return CustomerPanelOut(
            customer_id=customer_id,
            external_id=customer.external_id,
            identified=customer.external_id is not None,
            name=customer.name,
            email=customer.email,
            loyalty_points=customer.loyalty_points,
            tier=customer.tier,
            tags=customer.tags,
            total_spent=customer.total_spent,
            last_order_at=customer.last_order_at,
            locale=customer.locale,
            created_at=customer.created_at,
            orders=orders,
            vouchers=vouchers,
            pages=pages,
            conversations=previous,
            satisfaction=scores,
        )
