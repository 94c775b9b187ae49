"""Shoppers' satisfaction with their conversations (1 to 5, and a comment), once given."""

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
            f"SELECT conversation_id, score, comment, at FROM satisfaction_scores"
            f" WHERE conversation_id IN ({marks}) ORDER BY at DESC",
            conversation_ids,
        )
        return records(rows, SatisfactionScore)
