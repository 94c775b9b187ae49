"""Segments and campaigns as stored; their rules, audiences and templates as JSON and text."""

from __future__ import annotations

import json
from typing import Any

from server.ids import new_id, now_ms
from server.store.db import Database, Row

_DAY_MS = 86_400_000


class CampaignStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -------------------------------------------------------------- segments

    async def create_segment(self, name: str, rules: dict[str, Any]) -> str:
        segment_id = new_id("sg")
        now = now_ms()
        await self.db.run(
            "INSERT INTO segments (id, name, rules, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (segment_id, name, json.dumps(rules), now, now),
        )
        return segment_id

    async def update_segment(self, segment_id: str, name: str, rules: dict[str, Any]) -> bool:
        changed = await self.db.run(
            "UPDATE segments SET name = ?, rules = ?, updated_at = ? WHERE id = ?",
            (name, json.dumps(rules), now_ms(), segment_id),
        )
        return changed > 0

    async def segment(self, segment_id: str) -> Row | None:
        return await self.db.fetchone("SELECT * FROM segments WHERE id = ?", (segment_id,))

    async def segments(self) -> list[Row]:
        return await self.db.fetchall("SELECT * FROM segments ORDER BY name")

    async def delete_segment(self, segment_id: str) -> bool:
        return await self.db.run("DELETE FROM segments WHERE id = ?", (segment_id,)) > 0

    async def count_where(self, where: str, params: list[Any]) -> int:
        row = await self.db.fetchone(
            f"SELECT COUNT(*) AS n FROM customers WHERE external_id IS NOT NULL AND {where}", params
        )
        return int(row["n"]) if row else 0

    async def members_where(self, where: str, params: list[Any], limit: int, offset: int) -> list[Row]:
        return await self.db.fetchall(
            f"SELECT * FROM customers WHERE external_id IS NOT NULL AND {where} ORDER BY external_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )

    # -------------------------------------------------------------- campaigns

    async def create(self, fields: dict[str, Any]) -> str:
        campaign_id = new_id("cp")
        now = now_ms()
        columns = {**fields, "id": campaign_id, "created_at": now, "updated_at": now}
        names = ", ".join(columns)
        await self.db.run(
            f"INSERT INTO campaigns ({names}) VALUES ({', '.join('?' * len(columns))})", list(columns.values())
        )
        return campaign_id

    async def update(self, campaign_id: str, fields: dict[str, Any], *, only_status: tuple[str, ...]) -> bool:
        """Change a campaign if its status is one of `only_status` (e.g. drafts only)."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        marks = ",".join("?" * len(only_status))
        changed = await self.db.run(
            f"UPDATE campaigns SET {assignments}, updated_at = ? WHERE id = ? AND status IN ({marks})",
            (*fields.values(), now_ms(), campaign_id, *only_status),
        )
        return changed > 0

    async def get(self, campaign_id: str) -> Row | None:
        return await self.db.fetchone("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))

    async def recent(self, limit: int, offset: int) -> list[Row]:
        return await self.db.fetchall(
            "SELECT * FROM campaigns ORDER BY created_at DESC LIMIT ? OFFSET ?", (limit, offset)
        )

    async def active(self) -> list[Row]:
        return await self.db.fetchall(
            "SELECT * FROM campaigns WHERE status = 'active' AND (expires_at IS NULL OR expires_at > ?)", (now_ms(),)
        )

    async def start_due(self) -> list[str]:
        """Scheduled campaigns whose time has come become active, each exactly once."""
        now = now_ms()
        rows = await self.db.run_returning(
            "UPDATE campaigns SET status = 'active', started_at = ?, updated_at = ?"
            " WHERE status = 'scheduled' AND send_at <= ? RETURNING id",
            (now, now, now),
        )
        return [r[0] for r in rows]

    async def eligible(
        self,
        campaign_id: str,
        customer_ids: list[str],
        audience_sql: str,
        params: list[Any],
        daily_cap: int,
        *,
        dedupe_key: str,
    ) -> list[Row]:
        """Of these customers, those the campaign may reach now: identified, consenting, in the
        audience, not reached by it yet, and under the daily cap of marketing notifications."""
        rows: list[Row] = []
        since = now_ms() - _DAY_MS
        for start in range(0, len(customer_ids), 500):
            chunk = customer_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += await self.db.fetchall(
                f"""
                SELECT * FROM customers
                WHERE id IN ({marks}) AND external_id IS NOT NULL AND marketing_consent = 1 AND ({audience_sql})
                  AND NOT EXISTS (SELECT 1 FROM notifications n
                                  WHERE n.customer_id = customers.id AND n.dedupe_key = ?)
                  AND (SELECT COUNT(*) FROM notifications n
                       WHERE n.customer_id = customers.id AND n.marketing = 1 AND n.created_at > ?) < ?
                """,
                [*chunk, *params, dedupe_key, since, daily_cap],
            )
        return rows

    async def customer(self, external_id: str) -> Row | None:
        return await self.db.fetchone("SELECT * FROM customers WHERE external_id = ?", (external_id,))

    async def in_audience(self, customer_id: str, audience_sql: str, params: list[Any]) -> bool:
        row = await self.db.fetchone(
            f"SELECT 1 FROM customers WHERE id = ? AND ({audience_sql})", [customer_id, *params]
        )
        return row is not None

    async def stats(self, campaign_id: str) -> dict[str, int]:
        recipients = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM notifications WHERE campaign_id = ?", (campaign_id,)
        )
        rows = await self.db.fetchall(
            "SELECT action, COUNT(*) AS n FROM notification_actions WHERE campaign_id = ? GROUP BY action",
            (campaign_id,),
        )
        out = {"recipients": int(recipients["n"]) if recipients else 0}
        out.update({r["action"]: int(r["n"]) for r in rows})
        return out

    async def customer_history(self, customer_id: str, limit: int) -> list[Row]:
        return await self.db.fetchall(
            """
            SELECT n.seq, n.kind, n.title, n.campaign_id, n.created_at,
                   (SELECT group_concat(a.action) FROM notification_actions a
                    WHERE a.customer_id = n.customer_id AND a.seq = n.seq) AS actions
            FROM notifications n WHERE n.customer_id = ? ORDER BY n.seq DESC LIMIT ?
            """,
            (customer_id, limit),
        )
