"""Search over every transcript (SQLite FTS5): by words, by customer, by the agent who had it."""

from __future__ import annotations

from server.api.endpoint import Call, Query, Resource, console
from server.chat.search import SearchResults

resource = Resource("search")


@resource.endpoint(
    "GET",
    "/api/v1/search",
    summary="Conversations by the words in them (ranked, with the matching snippet), by customer, by agent",
    access=console("agent", "admin"),
    response=SearchResults,
    query={
        "q": Query(str, "", "words that must all appear (the last may be the start of a word)", max_length=200),
        "agent": Query(str, None, "only conversations assigned to this agent id", max_length=64),
        "limit": Query(int, 30, "most hits", low=1, high=100),
    },
)
async def search(call: Call) -> SearchResults:
    assert call.actor is not None  # noqa: S101 - a console session
    query = call.query
    return await call.node.search.find(call.actor, query["q"], agent=query["agent"], limit=query["limit"])
