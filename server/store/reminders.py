"""Customers' dated reminders as stored, and firing the due ones exactly once across processes.

Guarantees:
- `create` counts and inserts in one write transaction: a customer never holds more than
  `max_per_customer` reminders, however many requests race.
- `fire_due` claims, stores and advances in one write transaction (BEGIN IMMEDIATE holds
  SQLite's write lock across processes): each occurrence of a reminder reaches the inbox
  exactly once however many processes run it. A crash before the commit fires nothing; after
  it, the advanced `next_fire_at` and the dedupe key `reminder:<id>:<occurrence>` stop a repeat.
- Due reminders are taken oldest `next_fire_at` first, at most `limit` per call (so one call
  never holds the write lock long); what `fire_due` returns was stored by that transaction and
  is committed when it returns (store, then publish).
- The push engine decides (a `Plan`: the notification and the next time, from typed records);
  this module only executes. The plan runs on the writer thread inside the transaction: it must
  not raise, block or await.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import msgspec

from server.ids import new_id, now_ms
from server.store.customers import CustomerDetails, details_columns
from server.store.db import Database, Tx, record, records
from server.store.inbox import Delivery, Draft, InboxStore


class ReminderRecord(msgspec.Struct):
    id: str
    customer_id: str
    external_id: str  # the customer's id in the shop
    name: str
    month: int
    day: int
    year: int | None
    local_time: str
    repeat: str
    title: str
    body: str
    next_fire_at: int | None
    last_fired_at: int | None
    created_at: int


class NewReminder(msgspec.Struct, kw_only=True):
    name: str
    month: int
    day: int
    year: int | None
    local_time: str
    repeat: str
    title: str
    body: str
    next_fire_at: int


class DueReminder(msgspec.Struct):
    """A reminder whose time has come, with what rendering it and finding its next date need."""

    reminder_id: str
    reminder_name: str
    month: int
    day: int
    year: int | None
    local_time: str
    repeat: str
    title_template: str
    body_template: str
    next_fire_at: int


class Due(NamedTuple):
    reminder: DueReminder
    customer: CustomerDetails


# What firing one due reminder means, decided by the push engine (which knows dates and
# templates): the notification to store (None: store nothing) and the next time (None: never).
Plan = Callable[[Due], tuple[Draft | None, int | None]]

_SELECT = (
    f"SELECT {', '.join(f'r.{f}' for f in ReminderRecord.__struct_fields__ if f != 'external_id')}, c.external_id"
    " FROM reminders r JOIN customers c ON c.id = r.customer_id"
)

# The customer's columns keep their own names (CustomerDetails reads them), the reminder's are
# prefixed where they clash.
_DUE = f"""
SELECT r.id AS reminder_id, r.name AS reminder_name, r.month, r.day, r.year, r.local_time, r.repeat,
       r.title AS title_template, r.body AS body_template, r.next_fire_at, {details_columns("c")}
FROM reminders r JOIN customers c ON c.id = r.customer_id
WHERE r.next_fire_at IS NOT NULL AND r.next_fire_at <= ?
ORDER BY r.next_fire_at
LIMIT ?
"""


class ReminderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, customer_id: str, fields: NewReminder, *, max_per_customer: int) -> str | None:
        """Store a reminder; None when the customer already has `max_per_customer` of them."""
        reminder_id = new_id("rm")
        columns = {
            **msgspec.structs.asdict(fields),
            "id": reminder_id,
            "customer_id": customer_id,
            "created_at": now_ms(),
        }

        def work(tx: Tx) -> str | None:
            count = tx.execute("SELECT COUNT(*) FROM reminders WHERE customer_id = ?", (customer_id,)).fetchone()[0]
            if count >= max_per_customer:
                return None
            # Column names come from NewReminder, never from input.
            tx.execute(
                f"INSERT INTO reminders ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                list(columns.values()),
            )
            return reminder_id

        return await self.db.write(work)

    async def get(self, reminder_id: str) -> ReminderRecord | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE r.id = ?", (reminder_id,))
        return record(row, ReminderRecord) if row else None

    async def for_customer(self, customer_id: str) -> list[ReminderRecord]:
        """A customer's reminders, the next to fire first, the spent ones last."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE r.customer_id = ? ORDER BY r.next_fire_at IS NULL, r.next_fire_at, r.created_at",
            (customer_id,),
        )
        return records(rows, ReminderRecord)

    async def delete(self, reminder_id: str) -> bool:
        return await self.db.run("DELETE FROM reminders WHERE id = ?", (reminder_id,)) > 0

    async def any_due(self, now: int) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM reminders WHERE next_fire_at IS NOT NULL AND next_fire_at <= ? LIMIT 1", (now,)
        )
        return row is not None

    async def fire_due(self, now: int, *, plan: Plan, limit: int = 100) -> list[Delivery]:
        """Fire up to `limit` reminders due at `now`; the notifications stored, to publish after commit."""

        def work(tx: Tx) -> list[Delivery]:
            due = [
                Due(record(row, DueReminder), record(row, CustomerDetails))
                for row in tx.execute(_DUE, (now, limit)).fetchall()
            ]
            if not due:
                return []
            drafts: list[tuple[str, Draft]] = []
            advances: list[tuple[int | None, int | None, str, int]] = []
            for item in due:
                draft, following = plan(item)
                if draft is not None:
                    drafts.append((item.customer.id, draft))
                fired = now if draft is not None else None
                advances.append((following, fired, item.reminder.reminder_id, item.reminder.next_fire_at))
            tx.executemany(
                "UPDATE reminders SET next_fire_at = ?, last_fired_at = COALESCE(?, last_fired_at)"
                " WHERE id = ? AND next_fire_at = ?",
                advances,
            )
            if not drafts:
                return []
            appended = InboxStore.append_many(tx, drafts)
            if not appended.customer_ids:  # every one of them was already stored
                return []
            return [Delivery(s.customer_id, s.notification()) for s in InboxStore.stored_now(tx, appended)]

        return await self.db.write(work)
