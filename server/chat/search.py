"""Finding a conversation again: by the words in it, by its customer, or by the agent who had it."""

from __future__ import annotations

import msgspec

from server.chat.access import Actor
from server.errors import Problem
from server.protocol import ConversationSummary, ErrorCode
from server.store.transcript_search import MARK_END, MARK_START, Scope, SearchHit, TranscriptSearch

__all__ = ["MARK_END", "MARK_START", "Search", "SearchHit", "SearchResults"]


class SearchResults(msgspec.Struct):
    # Conversations of customers whose name, e-mail or shop id matches (or, with only `agent`
    # given, that agent's conversations), the latest first.
    conversations: list[ConversationSummary]
    # One per conversation, its best-ranked message or note; `snippet` marks the matched words
    # between the characters U+0002 and U+0003.
    hits: list[SearchHit]


class Search:
    """An admin searches every transcript; an agent the ones they may read (theirs and the queue)."""

    def __init__(self, index: TranscriptSearch) -> None:
        self._index = index

    async def find(self, actor: Actor, words: str, *, agent: str | None, limit: int) -> SearchResults:
        if not actor.answers_chats:
            raise Problem(ErrorCode.FORBIDDEN, "search is for agents and admins")
        words = words.strip()
        if not words and not agent:
            return SearchResults(conversations=[], hits=[])
        scope = Scope(reader=None if actor.is_admin else actor.id, assignee=agent or None)
        hits = await self._index.messages(words, scope, limit) if words else []
        conversations = await self._index.customers(words, scope, min(limit, 20))
        return SearchResults(conversations=conversations, hits=hits)
