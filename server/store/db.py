"""The SQLite database: connections, WAL, numbered migrations, the store's epoch, transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger("rapport.store")

Row = aiosqlite.Row


def _migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every `NNNN_name.sql` in store/migrations, in order."""
    found = []
    for entry in resources.files("server.store.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """Two connections to one SQLite file in WAL mode.

    All writes go through one writer connection, one transaction at a time (SQLite has a single
    writer anyway; queuing here avoids SQLITE_BUSY inside one process). Reads use a second
    connection, so a reader never sees another coroutine's uncommitted writes: the hub must only
    ever deliver what is committed (store, then publish, then deliver).
    """

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self.epoch = ""
        self.applied: list[str] = []

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        self.applied = await self.migrate()
        self._reader = await self._connect()
        self.epoch = await self._ensure_epoch()

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly
        # what `transaction()` says it is.
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        # NORMAL in WAL mode: a commit survives a process crash (not a power loss) without an
        # fsync per commit; FULL would cut chat throughput several-fold (bench/README.md).
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={self._busy_timeout_ms}",
        ):
            await conn.execute(f"PRAGMA {pragma}")
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("database is not open")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    async def migrate(self) -> list[str]:
        """Apply every migration newer than `PRAGMA user_version`, each in its own transaction."""
        conn = self.writer
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        applied = []
        for version, name, sql in _migrations():
            if version <= current:
                continue
            async with self._write_lock:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split_sql(sql):
                        await conn.execute(statement)
                    await conn.execute(f"PRAGMA user_version = {version:d}")
                    await conn.execute("COMMIT")
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
            log.info("applied migration %s", name)
            applied.append(name)
        return applied

    async def _ensure_epoch(self) -> str:
        """A random id made with the database. A restored copy gets a new one (see docs/operations.md)."""
        epoch = await self.get_meta("epoch")
        if epoch is None:
            epoch = secrets.token_hex(8)
            await self.set_meta("epoch", epoch, only_if_missing=True)
            epoch = await self.get_meta("epoch") or epoch
        return epoch

    async def get_meta(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row["value"]) if row else None

    async def set_meta(self, key: str, value: str, *, only_if_missing: bool = False) -> None:
        verb = "INSERT OR IGNORE" if only_if_missing else "INSERT OR REPLACE"
        async with self.transaction() as tx:
            await tx.execute(f"{verb} INTO meta (key, value) VALUES (?, ?)", (key, value))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock up front, so a
        read-then-write inside it cannot be invalidated by another process's commit."""
        async with self._write_lock:
            conn = self.writer
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self.reader.execute(sql, tuple(params)) as cur:
            row: Row | None = await cur.fetchone()
            return row

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self.reader.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def ping(self) -> bool:
        try:
            await self.fetchone("SELECT 1")
        except Exception:
            log.exception("database ping failed")
            return False
        return True


def _split_sql(sql: str) -> list[str]:
    """Statements of a migration file. Migrations hold no triggers, so ';' ends a statement."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
