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
- `period` reads one range of a covering index (migration 0011), grouped in SQLite: its cost
  grows with the conversations of the period, not with the events stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from server.protocol import Event
from server.store.db import Database, Tx, records


class DayCount(msgspec.Struct):
    """Conversations opened on day `day` (0: the period's first day)."""

    day: int
    conversations: int


class HolderFigures(msgspec.Struct):
    """Per agent who has (or had at close) the conversations; None: never assigned."""

    agent_id: str | None
    conversations: int
    # Ratings of 1, 2, 3, 4 and 5.
    ratings: list[int]
    # Opening to close of each closed one, in milliseconds, unsorted.
    resolutions: list[int]


class ResponderFigures(msgspec.Struct):
    """First-response times (milliseconds, unsorted) by the agent who replied, for the
    conversations opened on day `day` of the period."""

    agent_id: str
    day: int
    responses: list[int]


class PeriodFigures(msgspec.Struct):
    days: list[DayCount]
    holders: list[HolderFigures]
    responders: list[ResponderFigures]


_PERIOD = "opened_at >= ?1 AND opened_at < ?2"


def _numbers(text: str | None) -> list[int]:
    return [int(n) for n in text.split(",")] if text else []


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

    async def period(self, since: int, until: int) -> PeriodFigures:
        """The figures of the conversations opened in [since, until) (milliseconds); days count
        from `since`. Three passes over one range of the covering index; the durations come back
        as one text per agent (group_concat), not as a row per conversation: for 100,000
        conversations that is most of the cost saved."""
        params = (since, until)
        days = await self.db.fetchall(
            f"SELECT (opened_at - ?1) / 86400000 AS day, COUNT(*) AS conversations FROM support_stats"
            f" WHERE {_PERIOD} GROUP BY day",
            params,
        )
        holders = await self.db.fetchall(
            "SELECT agent_id, COUNT(*) AS conversations,"
            " SUM(rating = 1) AS r1, SUM(rating = 2) AS r2, SUM(rating = 3) AS r3, SUM(rating = 4) AS r4,"
            " SUM(rating = 5) AS r5, group_concat(closed_at - opened_at) AS resolutions"
            f" FROM support_stats WHERE {_PERIOD} GROUP BY agent_id",
            params,
        )
        responders = await self.db.fetchall(
            "SELECT responder_id AS agent_id, (opened_at - ?1) / 86400000 AS day,"
            " group_concat(first_response_at - first_customer_at) AS responses"
            f" FROM support_stats WHERE {_PERIOD} AND first_response_at IS NOT NULL"
            " AND first_customer_at IS NOT NULL AND responder_id IS NOT NULL GROUP BY responder_id, day",
            params,
        )
        return PeriodFigures(
            days=records(days, DayCount),
            holders=[
                HolderFigures(
                    agent_id=row["agent_id"],
                    conversations=row["conversations"],
                    ratings=[int(row[f"r{n}"] or 0) for n in range(1, 6)],
                    resolutions=_numbers(row["resolutions"]),
                )
                for row in holders
            ],
            responders=[
                ResponderFigures(agent_id=row["agent_id"], day=row["day"], responses=_numbers(row["responses"]))
                for row in responders
            ],
        )

    async def agent_names(self, agent_ids: Sequence[str]) -> dict[str, str]:
        """Names of these agents (disabled ones too: their past work stays in the report)."""
        if not agent_ids:
            return {}
        ids = list(agent_ids)
        rows = await self.db.fetchall(f"SELECT id, name FROM agents WHERE id IN ({','.join('?' * len(ids))})", ids)
        return {row["id"]: row["name"] for row in rows}
