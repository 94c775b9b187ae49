"""The SQLite database: one writer thread with group commit, a reader, migrations, the store's epoch.

Writes are plain functions of a `sqlite3.Connection`, run on one writer thread. Whatever is
queued while a transaction runs goes into the next one together (group commit): each function
in its own SAVEPOINT, so one that fails is rolled back alone, and all of them acknowledged only
after the COMMIT. One thread hop per write instead of one per statement is what lets one
process store and acknowledge thousands of chat messages a second (bench/README.md).

Reads go through a separate aiosqlite connection, so a reader never sees uncommitted writes:
the hub must only ever deliver what is committed (store, then publish, then deliver).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import queue
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec
import msgspec.inspect

log = logging.getLogger("rapport.store")

Row = sqlite3.Row
Tx = sqlite3.Connection
T = TypeVar("T")
R = TypeVar("R", bound=msgspec.Struct)

# Most write functions one transaction runs together. Bounded so one transaction never holds
# SQLite's write lock for long when another process shares the file.
MAX_BATCH = 256


def _migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every `NNNN_name.sql` in store/migrations, in order."""
    found = []
    for entry in resources.files("server.store.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class WriterConnection(sqlite3.Connection):
    """The writer thread's connection: it also holds the statements jobs deferred to the end of
    their batch (`defer`), run after the last job and before the COMMIT."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deferred: list[tuple[str, tuple[Any, ...]]] = []


def defer(tx: Tx, sql: str, params: tuple[Any, ...]) -> None:
    """Run `sql` in this transaction, but after every job of the batch, together with the same
    statement of the other jobs (one executemany). For writes whose cost grows with the number of
    flushes: an FTS5 table writes its pending terms out at every SAVEPOINT, so an insert per job
    costs four times one in a batch of them. A job that fails takes its deferred statements with
    it; one that fails to run fails the whole batch (as a failed COMMIT does). Outside the writer
    (a plain connection: migrations, tests) the statement runs at once."""
    if isinstance(tx, WriterConnection):
        tx.deferred.append((sql, params))
    else:
        tx.execute(sql, params)


def _run_deferred(conn: WriterConnection) -> None:
    by_statement: dict[str, list[tuple[Any, ...]]] = {}
    for sql, params in conn.deferred:
        by_statement.setdefault(sql, []).append(params)
    conn.deferred.clear()
    for sql, many in by_statement.items():
        conn.executemany(sql, many)
def latest_schema() -> int:
    """The schema version this release migrates a database to."""
    return max((version for version, _name, _sql in _migrations()), default=0)


def _pragmas(busy_timeout_ms: int) -> list[str]:
    # NORMAL in WAL mode: a commit survives a process crash (not a power loss) without an fsync
    # per commit; FULL would add an fsync (~200 us on this machine) to every commit.
    return ["journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", f"busy_timeout={busy_timeout_ms}"]


class _Job:
    __slots__ = ("fn", "future", "loop")

    def __init__(self, fn: Callable[[Tx], Any], future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the caller was cancelled; the write happened all the same
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


# Told of every write transaction on the writer thread: how many writes it held, how long it took.
BatchObserver = Callable[[int, float], None]


class Duplicate(sqlite3.IntegrityError):
    """A write broke a uniqueness rule (an e-mail, a shortcut, a name taken): nothing of it was
    stored. What services catch for a conflict, instead of the database driver's own error (a
    subclass of it, so the store's own `except sqlite3.IntegrityError` still holds)."""


_UNIQUE = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


class Database:
    def __init__(self, path: str, *, busy_timeout_ms: int = 5000, observe: BatchObserver | None = None) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._observe = observe
        self._reader: aiosqlite.Connection | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.epoch = ""
        self.applied: list[str] = []

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._thread = threading.Thread(
            target=self._writer_main, args=(ready, asyncio.get_running_loop()), name="rapport-writer", daemon=True
        )
        self._thread.start()
        await ready
        self.applied = await self.migrate()
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        self._reader.row_factory = sqlite3.Row
        for pragma in _pragmas(self._busy_timeout_ms):
            await self._reader.execute(f"PRAGMA {pragma}")
        self.epoch = await self._ensure_epoch()

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join, 10)
            self._thread = None

    # -------------------------------------------------------------- the writer thread

    def _writer_main(self, ready: asyncio.Future[None], loop: asyncio.AbstractEventLoop) -> None:
        try:
            # isolation_level=None: BEGIN/COMMIT are ours, so a transaction is exactly a batch.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, factory=WriterConnection)
            conn.row_factory = sqlite3.Row
            for pragma in _pragmas(self._busy_timeout_ms):
                conn.execute(f"PRAGMA {pragma}")
        except Exception as exc:
            loop.call_soon_threadsafe(_resolve, ready, False, exc)
            return
        loop.call_soon_threadsafe(_resolve, ready, True, None)
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                batch = [job]
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self._jobs.put(None)  # stop after this batch
                        break
                    batch.append(more)
                self._run_batch(conn, batch)
        finally:
            conn.close()

    def _run_batch(self, conn: WriterConnection, batch: list[_Job]) -> None:
        results: list[tuple[bool, Any]] = []
        began = time.perf_counter()
        try:
            # IMMEDIATE takes the write lock up front: a read-then-write inside a job cannot be
            # invalidated by another process's commit.
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                deferred_before = len(conn.deferred)
                try:
                    value = job.fn(conn)
                except Exception as exc:  # this job's changes go, the others' stay
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    del conn.deferred[deferred_before:]
                    results.append((False, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((True, value))
            _run_deferred(conn)
            conn.execute("COMMIT")
        except Exception as exc:
            conn.deferred.clear()
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            log.error("write transaction failed: %s", exc)
            results = [(False, exc)] * len(batch)
        if self._observe is not None:
            self._observe(len(batch), time.perf_counter() - began)
        for job, (ok, value) in zip(batch, results, strict=True):
            job.loop.call_soon_threadsafe(_resolve, job.future, ok, value)

    def queued(self) -> int:
        """Writes waiting for the writer thread (a sample for the metrics)."""
        return self._jobs.qsize()

    async def write(self, fn: Callable[[Tx], T]) -> T:
        """Run `fn(connection)` inside a write transaction; its result once committed.

        `fn` runs on the writer thread: plain synchronous SQL, no awaiting. If it raises, its
        changes are rolled back and the exception comes back here; other writes are unaffected.
        """
        if self._thread is None:
            raise RuntimeError("database is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, future, loop))
        try:
            return await future
        except sqlite3.IntegrityError as e:
            if isinstance(e, Duplicate) or e.sqlite_errorname not in _UNIQUE:
                raise
            raise Duplicate(str(e)) from e

    async def run(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement in its own (grouped) transaction; the number of rows it changed."""
        values = tuple(params)
        changed: int = await self.write(lambda tx: tx.execute(sql, values).rowcount)
        return changed

    async def run_returning(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """One write statement with RETURNING; its rows."""
        values = tuple(params)
        rows: list[Row] = await self.write(lambda tx: tx.execute(sql, values).fetchall())
        return rows

    # -------------------------------------------------------------- schema and meta

    async def migrate(self) -> list[str]:
        """Apply every migration newer than `PRAGMA user_version`, each in its own transaction."""
        applied = []
        for version, name, sql in _migrations():
            if await self.write(functools.partial(_apply, version=version, sql=sql)):
                log.info("applied migration %s", name)
                applied.append(name)
        return applied

    async def _ensure_epoch(self) -> str:
        """A random id made with the database. A restored copy gets a new one (see docs/operations.md)."""
        await self.set_meta("epoch", secrets.token_hex(8), only_if_missing=True)
        epoch = await self.get_meta("epoch")
        assert epoch is not None  # noqa: S101 - written just above
        return epoch

    async def get_meta(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row["value"]) if row else None

    async def set_meta(self, key: str, value: str, *, only_if_missing: bool = False) -> None:
        verb = "INSERT OR IGNORE" if only_if_missing else "INSERT OR REPLACE"
        await self.run(f"{verb} INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -------------------------------------------------------------- reads

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await self.reader.execute_fetchall(sql, tuple(params))
        for row in rows:
            return row
        return None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return list(await self.reader.execute_fetchall(sql, tuple(params)))

    async def ping(self) -> bool:
        try:
            await self.fetchone("SELECT 1")
        except Exception:
            log.exception("database ping failed")
            return False
        return True


# -------------------------------------------------------------- typed records


_JSON_TYPES = (msgspec.inspect.ListType, msgspec.inspect.DictType, msgspec.inspect.StructType)


def _reader_of(field_type: msgspec.inspect.Type, python_type: Any) -> Callable[[Any], Any] | None:
    """How a column's value becomes the field's value: None when it is already the right type."""
    options = field_type.types if isinstance(field_type, msgspec.inspect.UnionType) else (field_type,)
    if any(isinstance(option, _JSON_TYPES) for option in options):
        decoder = msgspec.json.Decoder(python_type)
        # A list, object or record kept in one column is JSON text; NULL stays None.
        return lambda value: decoder.decode(value) if isinstance(value, str | bytes) else value
    if any(isinstance(option, msgspec.inspect.BoolType) for option in options):
        return lambda value: value if value is None else bool(value)  # SQLite keeps 0 and 1
    return None


class _Plan:
    """How rows become records of one class: each field's column, and how its value is read."""

    __slots__ = ("cls", "names", "positional", "readers")

    def __init__(self, cls: type[msgspec.Struct]) -> None:
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)  # noqa: S101 - R is bound to Struct
        python_types = {f.name: f.type for f in msgspec.structs.fields(cls)}
        self.cls = cls
        self.names = tuple(f.name for f in info.fields)
        self.readers = tuple(_reader_of(f.type, python_types[f.name]) for f in info.fields)
        parameters = inspect.signature(cls).parameters.values()
        self.positional = all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters)

    def columns(self, row: Row) -> list[int]:
        """Where each field is in rows shaped like `row` (SQLite's names, case-insensitive)."""
        keys = [key.lower() for key in row.keys()]  # noqa: SIM118 - sqlite3.Row has no __iter__ of keys
        try:
            return [keys.index(name.lower()) for name in self.names]
        except ValueError:
            missing = [name for name in self.names if name.lower() not in keys]
            raise IndexError(f"{self.cls.__name__}: the query has no column {', '.join(missing)}") from None

    def build(self, row: Row, columns: list[int]) -> Any:
        values = [row[i] if read is None else read(row[i]) for i, read in zip(columns, self.readers, strict=True)]
        if self.positional:
            return self.cls(*values)
        return self.cls(**dict(zip(self.names, values, strict=True)))


@functools.cache
def _plan(cls: type[msgspec.Struct]) -> _Plan:
    return _Plan(cls)


def record(row: Row, cls: type[R]) -> R:
    """The one way a row leaves the store: as a typed record, each field read from the column of
    its name. A column holding JSON text fills a list, dict or record field; 0/1 fills a bool.

    A field missing from the row raises IndexError: a query and its record disagree, a bug.
    """
    plan = _plan(cls)
    built: R = plan.build(row, plan.columns(row))
    return built


def records(rows: Iterable[Row], cls: type[R]) -> list[R]:
    """`record` for every row of one query (the columns are looked up once)."""
    plan = _plan(cls)
    columns: list[int] | None = None
    found: list[R] = []
    for row in rows:
        if columns is None:
            columns = plan.columns(row)
        found.append(plan.build(row, columns))
    return found


def _apply(tx: Tx, version: int, sql: str) -> bool:
    current = int(tx.execute("PRAGMA user_version").fetchone()[0])
    if version <= current:
        return False
    for statement in _split_sql(sql):
        tx.execute(statement)
    tx.execute(f"PRAGMA user_version = {version:d}")
    return True


def _split_sql(sql: str) -> list[str]:
    """Statements of a migration file. Migrations hold no triggers, so ';' ends a statement."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
