"""The shopper's socket: a visitor token or a shop-signed identity becomes a customer actor."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, ClassVar

from starlette.websockets import WebSocket

from server import streams
from server.auth.identity import VerifiedCustomer, still_valid
from server.chat.access import Actor
from server.chat.visitors import ANONYMOUS
from server.errors import Problem
from server.node import Node
from server.protocol import (
    CloseCode,
    Consent,
    ConsentSet,
    CustomerProfile,
    ErrorCode,
    Hello,
    MessageSend,
    NotificationTrack,
    Orders,
    OrdersList,
    PageView,
    Presence,
    SurveyAnswer,
    Track,
    Welcome,
    encode_text,
)
from server.ws.session import ClientSession, Terminate


class WidgetSession(ClientSession):
    role = "customer"
    sees_private = False

    handlers: ClassVar[dict[type[Any], str]] = {
        **ClientSession.handlers,
        NotificationTrack: "on_notification_track",
        SurveyAnswer: "on_survey_answer",
        OrdersList: "on_orders_list",
        ConsentSet: "on_consent_set",
        PageView: "on_page_view",
        Track: "on_track",
    }

    def __init__(self, websocket: WebSocket, node: Node) -> None:
        super().__init__(websocket, node)
        self.verified: VerifiedCustomer | None = None
        # Whether the customer has a record (identified, or a visitor who has written): their
        # page views are stored at once; a visitor's wait until they write (chat/page_views.py).
        self.recorded = False

    def allowed_origins(self) -> tuple[str, ...]:
        return self.settings.allowed_origins

    async def start(self, hello: Hello) -> None:
        node = self.node
        visitors = node.visitors
        visitor_id = await visitors.visitor_of(hello.visitor_token)
        token = None
        profile = None
        if hello.identity is not None:
            try:
                self.verified = visitors.verify(hello.identity)
            except Problem as exc:
                raise Terminate(CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, exc.message) from None
            record = await visitors.identify(self.verified, visitor_id)
            customer_id, name = record.id, record.name
            profile = CustomerProfile(
                name=record.name,
                loyalty_points=record.loyalty_points,
                tier=record.tier,
                marketing_consent=record.marketing_consent,
            )
        else:
            # A new visitor costs nothing stored until they write (chat/visitors.py).
            customer_id, name = visitor_id or visitors.new_visitor(), None
            # Reissued on every connect, so an active visitor's token never ages out.
            token = visitors.token_for(customer_id)
            self.conn.session = ANONYMOUS
        self.become(Actor(type="customer", id=customer_id, name=name))
        await node.hub.join(self.conn, streams.customer(customer_id))
        await node.hub.join(self.conn, streams.CUSTOMERS)
        conversations = await node.chat.conversations_of(self.me)
        self.recorded = self.verified is not None or bool(conversations)
        online = await node.presence.anyone_online()
        self.conn.send(
            encode_text(
                Welcome(
                    role="customer",
                    epoch=node.epoch,
                    max_message_chars=self.settings.max_message_chars,
                    agents_online=online,
                    conversations=conversations,
                    visitor_token=token,
                    customer_id=customer_id,
                    profile=profile,
                )
            )
        )
        self.conn.send(encode_text(Presence(agents_online=online)))
        mine = {c.id for c in conversations}
        for conversation_id in hello.resume:
            if conversation_id not in mine:
                self.error(ErrorCode.NOT_FOUND, f"no conversation {conversation_id} for you")
        # Follow what the client knows, plus every open conversation (a new tab knows nothing yet).
        follow = [c.id for c in conversations if c.id in hello.resume or c.status != "closed"]
        await self.follow_all(follow, hello)
        if self.verified:
            # Pushes are for customers the shop knows; anonymous visitors only chat.
            await node.activity.on_connect(customer_id)
            await node.hub.follow(self.conn, streams.inbox(customer_id), hello.inbox or 0, epoch=hello.epoch)

    async def on_notification_track(self, f: NotificationTrack) -> None:
        await self.node.inbox.track(self.me.id, f.seq, f.action)

    async def on_survey_answer(self, f: SurveyAnswer) -> None:
        answered = await self.node.surveys.answer(self.me.id, client_id=f.client_id, seq=f.seq, answers=f.answers)
        self.conn.send(encode_text(answered))

    async def on_orders_list(self, f: OrdersList) -> None:
        # An anonymous visitor has no orders here: the shop's proof names whose they are.
        orders = await self.node.orders.recent(self.me.id) if self.verified else []
        self.conn.send(encode_text(Orders(orders=orders)))

    async def on_consent_set(self, f: ConsentSet) -> None:
        if not self.verified:
            raise Problem(ErrorCode.FORBIDDEN, "log in to choose what the shop sends you")
        stored = await self.node.shop_customers.set_marketing_consent(self.me.id, f.marketing, source="widget")
        self.conn.send(encode_text(Consent(marketing=stored)))
    async def on_message_send(self, f: MessageSend) -> None:
        await super().on_message_send(f)
        if not self.recorded:  # their first message made their record: the pages that led here
            self.recorded = True
            await self.node.page_views.recorded(self.me.id)

    async def on_page_view(self, f: PageView) -> None:
        await self.node.page_views.viewed(self.me.id, f.url, f.title, recorded=self.recorded)
        if self.verified:
            await self.node.activity.on_page_view(self.me.id, self.conn.id, f.url)

    async def on_track(self, f: Track) -> None:
        if self.verified:
            await self.node.activity.on_event(self.me.id, f.name, f.props)

    async def finish(self) -> None:
        if self.verified and self.actor is not None:
            self.node.activity.on_disconnect(self.actor.id, self.conn.id)

    def check_still_authorised(self) -> None:
        if not still_valid(self.verified):
            raise Terminate(CloseCode.UNAUTHORIZED, ErrorCode.UNAUTHORIZED, "customer token expired; identify again")


def widget_endpoint(websocket: WebSocket) -> Awaitable[None]:
    # Returns the session's coroutine rather than awaiting it: one frame less held per socket.
    return WidgetSession(websocket, websocket.app.state.node).run()
