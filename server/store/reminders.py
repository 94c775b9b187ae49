"""Customers' dated reminders as stored, and firing the due ones exactly once across processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.ids import new_id, now_ms
from server.store.db import Database, Row, Tx
from server.store.inbox import Draft, InboxStore

# What firing one due reminder means, decided by the push engine (which knows dates and
# templates): the notification to store (None: store nothing) and the next time (None: never).
Plan = Callable[[Row], tuple[Draft | None, int | None]]

_SELECT = "SELECT r.*, c.external_id FROM reminders r JOIN customers c ON c.id = r.customer_id"

# A due reminder with what rendering and its next date need: the customer's columns keep their
# own names (templates.context_of reads them), the reminder's are prefixed where they clash.
_DUE = """
SELECT r.id AS reminder_id, r.name AS reminder_name, r.month, r.day, r.year, r.local_time, r.repeat,
       r.title AS title_template, r.body AS body_template, r.next_fire_at,
       c.id AS customer_id, c.external_id, c.name, c.email, c.loyalty_points, c.tier, c.birthday, c.last_order_at,
       c.total_spent, c.tags, c.attributes, c.timezone, c.marketing_consent
FROM reminders r JOIN customers c ON c.id = r.customer_id
WHERE r.next_fire_at IS NOT NULL AND r.next_fire_at <= ?
ORDER BY r.next_fire_at
LIMIT ?
"""


class ReminderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, customer_id: str, fields: dict[str, Any], *, max_per_customer: int) -> str | None:
        """Store a reminder; None when the customer already has `max_per_customer` of them.

        `fields`: name, month, day, year, local_time, repeat, title, body, next_fire_at.
        """
        reminder_id = new_id("rm")
        columns = {**fields, "id": reminder_id, "customer_id": customer_id, "created_at": now_ms()}

        def work(tx: Tx) -> str | None:
            count = tx.execute("SELECT COUNT(*) FROM reminders WHERE customer_id = ?", (customer_id,)).fetchone()[0]
            if count >= max_per_customer:
                return None
            # Column names come from the service, never from input.
            tx.execute(
                f"INSERT INTO reminders ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                list(columns.values()),
            )
            return reminder_id

        return await self.db.write(work)

    async def get(self, reminder_id: str) -> Row | None:
        return await self.db.fetchone(f"{_SELECT} WHERE r.id = ?", (reminder_id,))

    async def for_customer(self, customer_id: str) -> list[Row]:
        """A customer's reminders, the next to fire first, the spent ones last."""
        return await self.db.fetchall(
            f"{_SELECT} WHERE r.customer_id = ? ORDER BY r.next_fire_at IS NULL, r.next_fire_at, r.created_at",
            (customer_id,),
        )

    async def delete(self, reminder_id: str) -> bool:
        return await self.db.run("DELETE FROM reminders WHERE id = ?", (reminder_id,)) > 0

    async def any_due(self, now: int) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM reminders WHERE next_fire_at IS NOT NULL AND next_fire_at <= ? LIMIT 1", (now,)
        )
        return row is not None

    async def fire_due(self, now: int, *, plan: Plan, limit: int = 100) -> list[Row]:
        """Fire up to `limit` reminders due at `now`; the notifications stored, to publish after commit.

        Claiming, storing and advancing happen in one write transaction (BEGIN IMMEDIATE holds
        SQLite's write lock across processes), so each occurrence fires exactly once however many
        processes run this: a crash before the commit fires nothing; after it, the advanced
        `next_fire_at` and the dedupe key `reminder:<id>:<occurrence>` keep it from firing again.
        `plan` runs inside the transaction (on the writer thread): it must not raise or block.
        """

        def work(tx: Tx) -> list[Row]:
            due = tx.execute(_DUE, (now, limit)).fetchall()
            if not due:
                return []
            drafts: list[tuple[str, Draft]] = []
            advances: list[tuple[int | None, int | None, str, int]] = []
            for row in due:
                draft, following = plan(row)
                if draft is not None:
                    drafts.append((row["customer_id"], draft))
                fired = now if draft is not None else None
                advances.append((following, fired, row["reminder_id"], row["next_fire_at"]))
            tx.executemany(
                "UPDATE reminders SET next_fire_at = ?, last_fired_at = COALESCE(?, last_fired_at)"
                " WHERE id = ? AND next_fire_at = ?",
                advances,
            )
            if not drafts:
                return []
            before = tx.total_changes
            stamp = InboxStore.append_many(tx, drafts).at
            if tx.total_changes == before:  # every one of them was already stored
                return []
            return InboxStore.rows_since(tx, sorted({cid for cid, _ in drafts}), stamp)

        return await self.db.write(work)
