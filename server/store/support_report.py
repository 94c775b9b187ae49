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
- `period` reads one range of a covering index (migration 0011) once, grouped in SQLite: its
  cost grows with the conversations of the period, not with the events stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from server.protocol import Event
from server.store.db import Database, Tx


class PeriodGroup(msgspec.Struct):
    """The conversations opened on day `day` of the period (0: its first) that `agent_id` has (or
    had at close; None: never assigned) and `responder_id` answered first (None: not answered)."""

    agent_id: str | None
    responder_id: str | None
    day: int
    conversations: int
    # Ratings of 1, 2, 3, 4 and 5.
    ratings: list[int]
    # Opening to close of the closed ones, and first message to first reply of the answered
    # ones, in milliseconds, unsorted.
    resolutions: list[int]
    responses: list[int]


_PERIOD = "opened_at >= ?1 AND opened_at < ?2"


# The durations come as one JSON array per group, decoded in C.
_NUMBERS = msgspec.json.Decoder(list[int])


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

    async def period(self, since: int, until: int) -> list[PeriodGroup]:
        """The conversations opened in [since, until) (milliseconds), grouped by who has them, who
        answered them and the day (from `since`). One pass over one range of the covering index;
        the durations come back as one JSON array per group (json_group_array), not as a row per
        conversation: for 100,000 conversations that is most of the cost saved."""
        rows = await self.db.fetchall(
            "SELECT agent_id, responder_id, (opened_at - ?1) / 86400000 AS day, COUNT(*) AS conversations,"
            " SUM(rating = 1) AS r1, SUM(rating = 2) AS r2, SUM(rating = 3) AS r3, SUM(rating = 4) AS r4,"
            " SUM(rating = 5) AS r5,"
            " json_group_array(closed_at - opened_at) FILTER (WHERE closed_at IS NOT NULL) AS resolutions,"
            " json_group_array(first_response_at - first_customer_at)"
            "   FILTER (WHERE first_response_at IS NOT NULL AND first_customer_at IS NOT NULL) AS responses"
            f" FROM support_stats WHERE {_PERIOD} GROUP BY agent_id, responder_id, day",
            (since, until),
        )
        return [
            PeriodGroup(
                agent_id=row["agent_id"],
                responder_id=row["responder_id"],
                day=row["day"],
                conversations=row["conversations"],
                ratings=[int(row[f"r{n}"] or 0) for n in range(1, 6)],
                resolutions=_NUMBERS.decode(row["resolutions"]),
                responses=_NUMBERS.decode(row["responses"]),
            )
            for row in rows
        ]

    async def agent_names(self, agent_ids: Sequence[str]) -> dict[str, str]:
        """Names of these agents (disabled ones too: their past work stays in the report)."""
        if not agent_ids:
            return {}
        ids = list(agent_ids)
        rows = await self.db.fetchall(f"SELECT id, name FROM agents WHERE id IN ({','.join('?' * len(ids))})", ids)
        return {row["id"]: row["name"] for row in rows}
