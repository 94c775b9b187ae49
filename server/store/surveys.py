"""Survey answers as stored: one set per customer and campaign, and the surveys notifications carry.

Guarantees: `store` decides in its write transaction whether the set is new, a resend (same
client_id) or a second set (refused), and the primary key (campaign, customer) settles a race
between processes: exactly one set per customer is ever stored.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import msgspec

from server.ids import now_ms
from server.store.db import Database, Tx, records


class StoredAnswers(msgspec.Struct):
    customer_id: str
    external_id: str | None
    answers: dict[str, str | int]
    at: int


class SurveyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def survey_of(self, customer_id: str, seq: int) -> tuple[str, dict[str, Any]] | None:
        """(campaign id, data) of this customer's survey notification `seq`, if it is one."""
        row = await self.db.fetchone(
            "SELECT campaign_id, data FROM notifications WHERE customer_id = ? AND seq = ? AND kind = 'survey'"
            " AND campaign_id IS NOT NULL",
            (customer_id, seq),
        )
        if row is None:
            return None
        data = json.loads(row["data"] or "{}")
        return str(row["campaign_id"]), data if isinstance(data, dict) else {}

    async def store(
        self, campaign_id: str, customer_id: str, seq: int, client_id: str, answers: dict[str, str | int]
    ) -> Literal["stored", "duplicate", "conflict"]:
        def work(tx: Tx) -> Literal["stored", "duplicate", "conflict"]:
            held = tx.execute(
                "SELECT client_id FROM survey_answers WHERE campaign_id = ? AND customer_id = ?",
                (campaign_id, customer_id),
            ).fetchone()
            if held is not None:
                return "duplicate" if held[0] == client_id else "conflict"
            tx.execute(
                "INSERT INTO survey_answers (campaign_id, customer_id, seq, client_id, answers, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (campaign_id, customer_id, seq, client_id, json.dumps(answers), now_ms()),
            )
            return "stored"

        return await self.db.write(work)

    async def answers(self, campaign_id: str, limit: int) -> list[StoredAnswers]:
        rows = await self.db.fetchall(
            "SELECT a.customer_id, c.external_id, a.answers, a.at FROM survey_answers a"
            " JOIN customers c ON c.id = a.customer_id WHERE a.campaign_id = ? ORDER BY a.at DESC LIMIT ?",
            (campaign_id, limit),
        )
        return records(rows, StoredAnswers)

    async def count(self, campaign_id: str) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) AS n FROM survey_answers WHERE campaign_id = ?", (campaign_id,))
        return int(row["n"]) if row else 0
