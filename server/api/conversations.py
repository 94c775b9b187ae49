"""Conversations over REST: lists for agents, paged transcripts for agents and customers."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.api.edge import agent_of, caller_of, json_response, node_of, query_int
from server.protocol import ConversationSummary, Event


class ConversationList(msgspec.Struct):
    conversations: list[ConversationSummary]


class Transcript(msgspec.Struct):
    conversation: ConversationSummary
    events: list[Event]
    # Pass as `after` for the next page; null when this page reached the end.
    next_after: int | None


async def list_conversations(request: Request) -> Response:
    actor = await agent_of(request, "agent", "admin")
    node = node_of(request)
    mine = await node.chat.conversations_of(actor)
    waiting = await node.conversations.waiting()
    return json_response(ConversationList(conversations=[*mine, *waiting]))


async def transcript(request: Request) -> Response:
    actor = await caller_of(request)
    conversation_id = request.path_params["conversation_id"]
    after = query_int(request, "after", 0, low=0, high=2**53)
    limit = query_int(request, "limit", 100, low=1, high=500)
    node = node_of(request)
    summary = await node.chat.readable(actor, conversation_id)
    events = await node.chat.transcript(actor, conversation_id, after, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    next_after = events[-1].seq if more and events else None
    return json_response(Transcript(conversation=summary, events=events, next_after=next_after))
