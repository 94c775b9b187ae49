"""Conversations and their numbered events: the queries of the chat aggregate."""

from __future__ import annotations

from typing import Any

import aiosqlite

from server.ids import new_id, now_ms
from server.protocol import ConversationSummary, Event
from server.store.db import Database, Row

_SUMMARY = """
SELECT c.id, c.status, c.last_seq, c.created_at, c.customer_id, c.agent_id, c.preview,
       cu.name AS customer_name
FROM conversations c JOIN customers cu ON cu.id = c.customer_id
"""
_EVENT_COLUMNS = (
    "conversation_id, seq, kind, at, author_type, author_id, author_name, text, client_id, target_seq, status, agent_id"
)


def summary_of(row: Row) -> ConversationSummary:
    return ConversationSummary(
        id=row["id"],
        status=row["status"],
        last_seq=row["last_seq"],
        created_at=row["created_at"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        agent_id=row["agent_id"],
        preview=row["preview"],
    )


def event_of(row: Row) -> Event:
    return Event(
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        kind=row["kind"],
        at=row["at"],
        author_type=row["author_type"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        text=row["text"],
        client_id=row["client_id"],
        target_seq=row["target_seq"],
        status=row["status"],
        agent_id=row["agent_id"],
    )


class StoredEvent:
    """An event as committed, with whether customers may see it (notes are agents-only)."""

    __slots__ = ("event", "private")

    def __init__(self, event: Event, private: bool) -> None:
        self.event = event
        self.private = private


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -------------------------------------------------------------- reads

    async def get(self, conversation_id: str) -> ConversationSummary | None:
        row = await self.db.fetchone(_SUMMARY + " WHERE c.id = ?", (conversation_id,))
        return summary_of(row) if row else None

    async def for_customer(self, customer_id: str, limit: int = 20) -> list[ConversationSummary]:
        rows = await self.db.fetchall(
            _SUMMARY + " WHERE c.customer_id = ? ORDER BY c.created_at DESC LIMIT ?", (customer_id, limit)
        )
        return [summary_of(r) for r in rows]

    async def for_agent(self, agent_id: str) -> list[ConversationSummary]:
        rows = await self.db.fetchall(
            _SUMMARY + " WHERE c.agent_id = ? AND c.status = 'assigned' ORDER BY c.updated_at DESC", (agent_id,)
        )
        return [summary_of(r) for r in rows]

    async def waiting(self, limit: int = 200) -> list[ConversationSummary]:
        rows = await self.db.fetchall(
            _SUMMARY + " WHERE c.status = 'waiting' ORDER BY c.waiting_since, c.id LIMIT ?", (limit,)
        )
        return [summary_of(r) for r in rows]

    async def last_seqs(self, conversation_ids: list[str]) -> dict[str, int]:
        if not conversation_ids:
            return {}
        marks = ",".join("?" * len(conversation_ids))
        rows = await self.db.fetchall(f"SELECT id, last_seq FROM conversations WHERE id IN ({marks})", conversation_ids)
        return {r["id"]: r["last_seq"] for r in rows}

    async def events_after(self, conversation_id: str, after: int, limit: int) -> list[StoredEvent]:
        rows = await self.db.fetchall(
            f"SELECT {_EVENT_COLUMNS}, private FROM events WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (conversation_id, after, limit),
        )
        return [StoredEvent(event_of(r), bool(r["private"])) for r in rows]

    async def latest_events(self, conversation_id: str, limit: int) -> list[StoredEvent]:
        rows = await self.db.fetchall(
            f"SELECT {_EVENT_COLUMNS}, private FROM events WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?",
            (conversation_id, limit),
        )
        return [StoredEvent(event_of(r), bool(r["private"])) for r in reversed(rows)]

    async def by_client_id(self, author_type: str, author_id: str, client_id: str) -> tuple[str, int] | None:
        row = await self.db.fetchone(
            "SELECT conversation_id, seq FROM events WHERE author_type = ? AND author_id = ? AND client_id = ?",
            (author_type, author_id, client_id),
        )
        return (row["conversation_id"], row["seq"]) if row else None

    async def event(self, conversation_id: str, seq: int) -> StoredEvent | None:
        row = await self.db.fetchone(
            f"SELECT {_EVENT_COLUMNS}, private FROM events WHERE conversation_id = ? AND seq = ?",
            (conversation_id, seq),
        )
        return StoredEvent(event_of(row), bool(row["private"])) if row else None

    # -------------------------------------------------------------- writes (inside db.transaction())

    @staticmethod
    async def create(tx: aiosqlite.Connection, customer_id: str) -> str:
        conversation_id = new_id("c")
        now = now_ms()
        await tx.execute(
            "INSERT INTO conversations (id, customer_id, status, last_seq, waiting_since, created_at, updated_at)"
            " VALUES (?, ?, 'waiting', 0, ?, ?, ?)",
            (conversation_id, customer_id, now, now, now),
        )
        return conversation_id

    @staticmethod
    async def append(tx: aiosqlite.Connection, conversation_id: str, *, private: bool = False, **fields: Any) -> Event:
        """Give the next seq of the conversation to a new event, in the caller's transaction."""
        now = now_ms()
        async with tx.execute(
            "UPDATE conversations SET last_seq = last_seq + 1, updated_at = ? WHERE id = ? RETURNING last_seq",
            (now, conversation_id),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise LookupError(conversation_id)
        event = Event(conversation_id=conversation_id, seq=int(row[0]), at=now, **fields)
        await tx.execute(
            f"INSERT INTO events ({_EVENT_COLUMNS}, private) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.conversation_id,
                event.seq,
                event.kind,
                event.at,
                event.author_type,
                event.author_id,
                event.author_name,
                event.text,
                event.client_id,
                event.target_seq,
                event.status,
                event.agent_id,
                int(private),
            ),
        )
        return event

    @staticmethod
    async def set_state(
        tx: aiosqlite.Connection, conversation_id: str, *, status: str, agent_id: str | None, waiting: bool
    ) -> None:
        await tx.execute(
            "UPDATE conversations SET status = ?, agent_id = ?,"
            " waiting_since = CASE WHEN ? THEN COALESCE(waiting_since, ?) ELSE NULL END WHERE id = ?",
            (status, agent_id, int(waiting), now_ms(), conversation_id),
        )

    @staticmethod
    async def set_preview(tx: aiosqlite.Connection, conversation_id: str, preview: str) -> None:
        await tx.execute("UPDATE conversations SET preview = ? WHERE id = ?", (preview[:140], conversation_id))

    @staticmethod
    async def state_in(tx: aiosqlite.Connection, conversation_id: str) -> tuple[str, str | None, str] | None:
        """(status, agent_id, customer_id) read inside the write transaction, for decisions."""
        async with tx.execute(
            "SELECT status, agent_id, customer_id FROM conversations WHERE id = ?", (conversation_id,)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1], row[2]) if row else None

    @staticmethod
    async def summary_in(tx: aiosqlite.Connection, conversation_id: str) -> ConversationSummary | None:
        """The summary as seen inside the write transaction, for decisions that must not race."""
        async with tx.execute(_SUMMARY + " WHERE c.id = ?", (conversation_id,)) as cur:
            row = await cur.fetchone()
        return summary_of(row) if row else None

    @staticmethod
    async def next_waiting(tx: aiosqlite.Connection) -> str | None:
        async with tx.execute(
            "SELECT id FROM conversations WHERE status = 'waiting' ORDER BY waiting_since, id LIMIT 1"
        ) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    @staticmethod
    async def move_customer(tx: aiosqlite.Connection, from_customer: str, to_customer: str) -> None:
        await tx.execute("UPDATE conversations SET customer_id = ? WHERE customer_id = ?", (to_customer, from_customer))
