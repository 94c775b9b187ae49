"""The inbox's batch insert on a real SQLite file: per-customer seqs, duplicates skipped by key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from server.store.db import Database, Tx
from server.store.inbox import Draft, InboxStore


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(str(tmp_path / "inbox.db"))
    await database.open()

    def customers(tx: Tx) -> None:
        tx.executemany(
            "INSERT INTO customers (id, external_id, created_at) VALUES (?, ?, 0)",
            [(f"cu_{n}", f"x{n}") for n in range(1200)],
        )

    await database.write(customers)
    yield database
    await database.close()


def draft(key: str | None, title: str = "t") -> Draft:
    return Draft(kind="offer", marketing=True, title=title, body="b", dedupe_key=key)


async def stored(db: Database, customer_id: str) -> list[tuple[int, str | None, str]]:
    rows = await db.fetchall(
        "SELECT seq, dedupe_key, title FROM notifications WHERE customer_id = ? ORDER BY seq", (customer_id,)
    )
    return [(r["seq"], r["dedupe_key"], r["title"]) for r in rows]


def inserted(batch: list[tuple[str, Draft]]) -> Callable[[Tx], int]:
    """A write storing `batch` that returns how many rows it inserted. (`tx.total_changes` counts
    every change since the connection opened, so only its difference says what this batch did.)"""

    def work(tx: Tx) -> int:
        before = tx.total_changes
        InboxStore.append_many(tx, batch)
        return tx.total_changes - before

    return work


async def test_seqs_follow_each_customer_and_keys_are_stored_once(db: Database) -> None:
    batch = [
        ("cu_1", draft("k1", "first")),
        ("cu_2", draft("k1", "first")),
        ("cu_1", draft("k1", "dup in batch")),  # same key again: skipped
        ("cu_1", draft(None, "no key a")),
        ("cu_1", draft(None, "no key b")),  # no key: never a duplicate
        ("cu_1", draft("k2", "second key")),
    ]

    assert await db.write(inserted(batch)) == 5
    assert await stored(db, "cu_1") == [(1, "k1", "first"), (2, None, "no key a"), (3, None, "no key b"),
                                        (4, "k2", "second key")]
    assert await stored(db, "cu_2") == [(1, "k1", "first")]

    # A later batch: what is stored already is skipped, seqs go on from the highest.
    again = [("cu_1", draft("k1", "retry")), ("cu_2", draft("k3", "new")), ("cu_1", draft("k3", "new"))]
    assert await db.write(inserted(again)) == 2  # k1 again for cu_1 is skipped
    assert [s for s, _, _ in await stored(db, "cu_1")] == [1, 2, 3, 4, 5]
    assert (await stored(db, "cu_2"))[-1] == (2, "k3", "new")


async def test_a_batch_larger_than_one_chunk(db: Database) -> None:
    batch = [(f"cu_{n}", draft("big")) for n in range(1200)] + [("cu_0", draft("big")), ("cu_1199", draft("more"))]
    await db.write(lambda tx: InboxStore.append_many(tx, batch))
    row = await db.fetchone("SELECT COUNT(*) AS n, MAX(seq) AS top FROM notifications WHERE dedupe_key = 'big'")
    assert row is not None and row["n"] == 1200 and row["top"] == 1
    assert await stored(db, "cu_1199") == [(1, "big", "t"), (2, "more", "t")]


async def test_the_daily_cap_counts_what_is_stored_and_what_the_batch_adds(db: Database) -> None:
    from server.store.inbox import DailyCap

    order = Draft(kind="order", marketing=False, title="paid", body="b", dedupe_key="order:1")
    cap = DailyCap(limit=2, since=0)
    first = await db.write(lambda tx: InboxStore.append_many(tx, [("cu_1", draft("a"))], daily_cap=cap))
    assert first.customer_ids == ["cu_1"]
    batch = [("cu_1", draft("b")), ("cu_1", draft("c")), ("cu_1", order), ("cu_2", draft("a"))]
    second = await db.write(lambda tx: InboxStore.append_many(tx, batch, daily_cap=cap))
    # cu_1 had one: "b" makes two, "c" is past the cap; the order update is not marketing.
    assert second.customer_ids == ["cu_1", "cu_1", "cu_2"]
    assert [k for _, k, _ in await stored(db, "cu_1")] == ["a", "b", "order:1"]
    # Marketing stored before `since` does not count.
    later = DailyCap(limit=2, since=second.at + 1)
    third = await db.write(lambda tx: InboxStore.append_many(tx, [("cu_1", draft("c"))], daily_cap=later))
    assert third.customer_ids == ["cu_1"]
