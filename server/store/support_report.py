"""Support reports' figures per conversation (`support_stats`): kept by the chat's write path, read by period.

Guarantees:
- One row per conversation, written in the transaction that creates the conversation or stores
  its event (`opened` from `ConversationStore.create`, `noted` from `ConversationStore.append`):
  a committed event is always counted, and a report never reads the events themselves.
- `first_customer_at` is the customer's first public message; `first_response_at` the first
  public agent message stored after it (private notes are another kind and never count), with
  its author in `responder_id`. An agent writing before the customer has written answers nothing.
- `closed_at` is the latest close; reopening clears it (the conversation is unresolved again).
- `agent_id` follows assignment (the agent who has it, or had it when it was closed).
- `rating` is the shopper's latest satisfaction score.
- `period` reads one range of a covering index (migration 0011): its cost grows with the
  conversations of the period, not with the events stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from server.protocol import Event
from server.store.db import Database, Tx


class PeriodRows(msgspec.Struct):
    """A period's conversations, by column (one list each, same order): cheap to build for 100k."""

    opened_at: list[int]
    first_customer_at: list[int | None]
    first_response_at: list[int | None]
    responder_id: list[str | None]
    agent_id: list[str | None]
    closed_at: list[int | None]
    rating: list[int | None]


class SupportStats:
    """The writes, run inside the chat's write transactions."""

    @staticmethod
    def opened(tx: Tx, conversation_id: str, at: int) -> None:
        tx.execute("INSERT INTO support_stats (conversation_id, opened_at) VALUES (?, ?)", (conversation_id, at))

    @staticmethod
    def noted(tx: Tx, event: Event, private: bool) -> None:
        """What `event` changes in its conversation's figures (most events change nothing)."""
        kind = event.kind
        if kind == "message" and not private:
            if event.author_type == "customer":
                tx.execute(
                    "UPDATE support_stats SET first_customer_at = ?"
                    " WHERE conversation_id = ? AND first_customer_at IS NULL",
                    (event.at, event.conversation_id),
                )
            elif event.author_type == "agent":
                tx.execute(
                    "UPDATE support_stats SET first_response_at = ?, responder_id = ? WHERE conversation_id = ?"
                    " AND first_customer_at IS NOT NULL AND first_response_at IS NULL",
                    (event.at, event.author_id, event.conversation_id),
                )
        elif kind == "assigned":
            tx.execute(
                "UPDATE support_stats SET agent_id = ? WHERE conversation_id = ?",
                (event.agent_id, event.conversation_id),
            )
        elif kind == "status":
            if event.status == "closed":
                tx.execute(
                    "UPDATE support_stats SET closed_at = ?, agent_id = COALESCE(?, agent_id)"
                    " WHERE conversation_id = ?",
                    (event.at, event.agent_id, event.conversation_id),
                )
            else:  # reopened: unresolved again, and whoever reopened it as an agent has it
                tx.execute(
                    "UPDATE support_stats SET closed_at = NULL, agent_id = COALESCE(?, agent_id)"
                    " WHERE conversation_id = ?",
                    (event.agent_id, event.conversation_id),
                )
        elif kind == "rating" and event.score is not None:
            tx.execute(
                "UPDATE support_stats SET rating = ? WHERE conversation_id = ?", (event.score, event.conversation_id)
            )


class SupportReportStore:
    """Reads for the support report."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def period(self, since: int, until: int) -> PeriodRows:
        """The conversations opened in [since, until) (milliseconds)."""
        rows = await self.db.fetchall(
            "SELECT opened_at, first_customer_at, first_response_at, responder_id, agent_id, closed_at, rating"
            " FROM support_stats WHERE opened_at >= ? AND opened_at < ? ORDER BY opened_at",
            (since, until),
        )
        # Transposed in C (zip), no per-value validation: the columns are the table's own.
        columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(7)]
        return PeriodRows(*columns)

    async def agent_names(self, agent_ids: Sequence[str]) -> dict[str, str]:
        """Names of these agents (disabled ones too: their past work stays in the report)."""
        if not agent_ids:
            return {}
        ids = list(agent_ids)
        rows = await self.db.fetchall(f"SELECT id, name FROM agents WHERE id IN ({','.join('?' * len(ids))})", ids)
        return {row["id"]: row["name"] for row in rows}
