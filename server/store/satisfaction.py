"""Shoppers' satisfaction with their conversations (1 to 5, and a comment), once given: read from
the conversations, where the widget's survey after a chat stores it (with a `rating` event)."""

from __future__ import annotations

import msgspec

from server.store.db import Database, records


class SatisfactionScore(msgspec.Struct):
    conversation_id: str
    score: int
    comment: str | None
    at: int


class SatisfactionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of_conversations(self, conversation_ids: list[str]) -> list[SatisfactionScore]:
        """The scores given for these conversations, the latest first."""
        if not conversation_ids:
            return []
        marks = ",".join("?" * len(conversation_ids))
        rows = await self.db.fetchall(
            "SELECT c.id AS conversation_id, c.rating AS score, c.rating_comment AS comment,"
            " (SELECT MAX(e.at) FROM events e WHERE e.conversation_id = c.id AND e.kind = 'rating') AS at"
            f" FROM conversations c WHERE c.id IN ({marks}) AND c.rating IS NOT NULL ORDER BY at DESC",
            conversation_ids,
        )
        return records(rows, SatisfactionScore)
