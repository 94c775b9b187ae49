"""store/reminders.py's guarantees: a per-customer limit that holds under races; each occurrence
fired once across processes, oldest first, at most `limit` a call; the plan sees typed records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.ids import now_ms
from server.store.customers import CustomerDetails
from server.store.db import Database
from server.store.inbox import Draft, InboxStore
from server.store.reminders import Due, DueReminder, NewReminder, ReminderStore
from tests.unit.push_world import add_customer, open_database


def reminder(name: str, at: int) -> NewReminder:
    return NewReminder(name=name, month=5, day=17, year=None, local_time="09:00", repeat="yearly",
                       title=f"{name} title", body="b", next_fire_at=at)


def plan(due: Due) -> tuple[Draft | None, int | None]:
    r = due.reminder
    draft = Draft(kind="reminder", marketing=False, title=r.title_template, body=r.body_template,
                  dedupe_key=f"reminder:{r.reminder_id}:{r.next_fire_at}")
    return draft, None  # once


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path)
    yield database
    await database.close()


async def test_the_per_customer_limit_holds_when_creates_race(tmp_path: Path, db: Database) -> None:
    other = await open_database(tmp_path)
    try:
        ann = await add_customer(db, "ann")
        stores = [ReminderStore(db), ReminderStore(other)]
        made = await asyncio.gather(
            *(stores[n % 2].create(ann, reminder(f"r{n}", now_ms() + 10**9), max_per_customer=3) for n in range(10))
        )
        assert sum(m is not None for m in made) == 3
        listed = await stores[0].for_customer(ann)
        assert len(listed) == 3 and all(r.external_id == "ann" for r in listed)
    finally:
        await other.close()


async def test_each_occurrence_fires_once_across_processes(tmp_path: Path, db: Database) -> None:
    other = await open_database(tmp_path)
    try:
        ann = await add_customer(db, "ann", name="Ann", timezone="Europe/Oslo")
        store, theirs = ReminderStore(db), ReminderStore(other)
        for n in range(5):
            await store.create(ann, reminder(f"r{n}", now_ms() - 1000 + n), max_per_customer=10)
        fired = await asyncio.gather(*(s.fire_due(now_ms(), plan=plan) for s in [store, theirs, store, theirs]))
        titles = sorted(d.notification.title for batch in fired for d in batch)
        assert titles == [f"r{n} title" for n in range(5)]
        assert len(await InboxStore(db).after(ann, 0, 100)) == 5
        assert not await store.any_due(now_ms())
        spent = await store.for_customer(ann)
        assert all(r.next_fire_at is None and r.last_fired_at is not None for r in spent)
    finally:
        await other.close()


async def test_due_reminders_go_oldest_first_and_at_most_limit_a_call_with_typed_records(db: Database) -> None:
    ann = await add_customer(db, "ann", name="Ann Lee", tags=["vip"], timezone="Asia/Tokyo")
    store = ReminderStore(db)
    now = now_ms()
    for name, at in (("third", now - 10), ("first", now - 30), ("second", now - 20), ("later", now + 10**9)):
        await store.create(ann, reminder(name, at), max_per_customer=10)
    seen: list[Due] = []

    def watching(due: Due) -> tuple[Draft | None, int | None]:
        seen.append(due)
        return plan(due)

    first = await store.fire_due(now, plan=watching, limit=2)
    assert [d.notification.title for d in first] == ["first title", "second title"]
    assert isinstance(seen[0].reminder, DueReminder) and isinstance(seen[0].customer, CustomerDetails)
    assert (seen[0].customer.name, seen[0].customer.tags, seen[0].customer.timezone) == ("Ann Lee", ["vip"],
                                                                                       "Asia/Tokyo")
    assert [d.notification.title for d in await store.fire_due(now, plan=plan, limit=2)] == ["third title"]
    assert await store.fire_due(now, plan=plan) == []


async def test_a_plan_that_stores_nothing_still_moves_the_reminder_on(db: Database) -> None:
    ann = await add_customer(db, "ann")
    store = ReminderStore(db)
    rid = await store.create(ann, reminder("moved", now_ms() - 5), max_per_customer=10)
    later = now_ms() + 3_600_000
    assert await store.fire_due(now_ms(), plan=lambda due: (None, later)) == []
    found = await store.get(rid or "")
    assert found is not None and (found.next_fire_at, found.last_fired_at) == (later, None)
    assert await InboxStore(db).after(ann, 0, 10) == []
    assert await store.delete(rid or "") and not await store.delete(rid or "")
