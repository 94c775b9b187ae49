"""Conversations over REST: lists for agents, paged transcripts for agents, customers and the shop."""

from __future__ import annotations

import msgspec

from server.api.endpoint import CALLER, Call, Query, Resource, console, shop
from server.chat.access import Actor
from server.chat.customer_panel import CustomerPanelOut
from server.chat.inbox_views import History
from server.protocol import ConversationSummary, Event

resource = Resource("conversations")


class ConversationList(msgspec.Struct):
    conversations: list[ConversationSummary]


class Transcript(msgspec.Struct):
    conversation: ConversationSummary
    events: list[Event]
    # Pass as `after` for the next page; null when this page reached the end.
    next_after: int | None


@resource.endpoint(
    "GET",
    "/api/v1/conversations",
    summary="Your conversations and the waiting queue",
    access=console("agent", "admin"),
    response=ConversationList,
)
async def list_conversations(call: Call) -> ConversationList:
    assert call.actor is not None  # noqa: S101
    mine = await call.node.chat.conversations_of(call.actor)
    waiting = await call.node.chat.waiting()
    return ConversationList(conversations=[*mine, *waiting])


_PAGE = {
    "after": Query(int, 0, "return events with a seq above this", low=0, high=2**53),
    "limit": Query(int, 100, "page size", low=1, high=500),
}


async def _transcript(call: Call, actor: Actor) -> Transcript:
    conversation_id = call.path["conversation_id"]
    limit: int = call.query["limit"]
    summary = await call.node.chat.readable(actor, conversation_id)
    events, next_after = await call.node.chat.transcript(actor, conversation_id, call.query["after"], limit)
    return Transcript(conversation=summary, events=events, next_after=next_after)


@resource.endpoint(
    "GET",
    "/api/v1/conversations/{conversation_id:str}/events",
    summary="A transcript, paged (agents: with notes; customers: without)",
    access=CALLER,
    response=Transcript,
    query=_PAGE,
)
async def transcript(call: Call) -> Transcript:
    assert call.actor is not None  # noqa: S101
    return await _transcript(call, call.actor)


@resource.endpoint(
    "GET",
    "/api/v1/shop/conversations/{conversation_id:str}/events",
    summary="A transcript for the shop's back end",
    access=shop("conversations", "admin"),
    response=Transcript,
    query=_PAGE,
)
async def shop_transcript(call: Call) -> Transcript:
    assert call.actor is not None  # noqa: S101
    return await _transcript(call, call.actor)


@resource.endpoint(
    "GET",
    "/api/v1/conversations/{conversation_id:str}/history",
    summary="A transcript read backwards, for the console (an agent also reads the closed conversations of a"
    " customer they are answering)",
    access=console("agent", "admin"),
    response=History,
    query={
        "before": Query(int, None, "events with a seq below this (omit: the latest)", low=1, high=2**53),
        "limit": Query(int, 100, "page size", low=1, high=500),
    },
)
async def history(call: Call) -> History:
    assert call.actor is not None  # noqa: S101
    return await call.node.inbox_views.history(
        call.actor, call.path["conversation_id"], before=call.query["before"], limit=call.query["limit"]
    )


@resource.endpoint(
    "GET",
    "/api/v1/conversations/{conversation_id:str}/customer",
    summary="The customer panel: who they are, points and tier, orders, vouchers, pages, previous conversations",
    access=console("agent", "admin"),
    response=CustomerPanelOut,
)
async def customer_panel(call: Call) -> CustomerPanelOut:
    assert call.actor is not None  # noqa: S101
    return await call.node.customer_panel.of_conversation(call.actor, call.path["conversation_id"])
