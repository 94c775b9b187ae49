"""store/db.py `defer`: statements run at the end of their batch, in its transaction; a job that fails
takes its own with it, the others' are written; outside the writer they run at once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.store.db import Database, Tx, defer


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(str(tmp_path / "deferred.db"))
    await database.open()
    await database.run("CREATE TABLE IF NOT EXISTS seen (job INTEGER, what TEXT)")
    yield database
    await database.close()


async def test_deferred_statements_run_after_the_jobs_and_only_for_the_jobs_that_succeed(db: Database) -> None:
    order: list[str] = []

    def job(n: int) -> int:
        def work(tx: Tx) -> int:
            defer(tx, "INSERT INTO seen (job, what) VALUES (?, 'deferred')", (n,))
            # Not yet written while its batch runs: it comes after the batch's last job.
            count = tx.execute("SELECT COUNT(*) FROM seen WHERE what = 'deferred' AND job = ?", (n,)).fetchone()[0]
            order.append(f"job {n} sees {count}")
            tx.execute("INSERT INTO seen (job, what) VALUES (?, 'direct')", (n,))
            if n == 2:
                raise ValueError("job 2 fails")
            return n

        return work  # type: ignore[return-value]

    results = await asyncio.gather(*(db.write(job(n)) for n in range(4)), return_exceptions=True)
    assert [r if not isinstance(r, Exception) else "failed" for r in results] == [0, 1, "failed", 3]
    rows = await db.fetchall("SELECT job, what FROM seen ORDER BY what, job")
    assert [(r["job"], r["what"]) for r in rows] == [
        (0, "deferred"), (1, "deferred"), (3, "deferred"), (0, "direct"), (1, "direct"), (3, "direct")]
    assert all(line.endswith("sees 0") for line in order)


async def test_a_deferred_statement_that_fails_fails_its_whole_batch(db: Database) -> None:
    def bad(tx: Tx) -> None:
        tx.execute("INSERT INTO seen (job, what) VALUES (1, 'direct')")
        defer(tx, "INSERT INTO no_such_table VALUES (?)", (1,))

    with pytest.raises(sqlite3.OperationalError):
        await db.write(bad)
    assert await db.fetchone("SELECT 1 FROM seen") is None
    await db.write(lambda tx: tx.execute("INSERT INTO seen (job, what) VALUES (2, 'direct')"))  # the writer goes on
    assert (await db.fetchone("SELECT job FROM seen"))["job"] == 2  # type: ignore[index]


def test_outside_the_writer_a_deferred_statement_runs_at_once() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x INTEGER)")
    defer(conn, "INSERT INTO t VALUES (?)", (7,))
    assert conn.execute("SELECT x FROM t").fetchall() == [(7,)]
