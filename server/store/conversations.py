"""Conversations and their numbered events: the queries of the chat aggregate.

Guarantees:
- `append` gives the next `seq` of its conversation in the caller's write transaction
  (`UPDATE ... RETURNING last_seq`), so seqs are gapless and increase by one per event, however
  many processes write; `events` is keyed by (conversation, seq).
- At most one event per (author type, author, client_id) exists (a unique index): a resend
  finds its original with `by_client_id_in`.
- Reads (`get`, `events_after`, `last_seqs`, ...) go through the reader connection and see only
  committed transactions: what they return may be delivered.
"""

from __future__ import annotations

from typing import Any

from server.ids import new_id, now_ms
from server.protocol import ConversationSummary, Event
from server.store.db import Database, Row, Tx, defer
from server.store.support_report import SupportStats

# The columns of a ConversationSummary (with its customer's name); other stores add their WHERE.
SUMMARY = """
SELECT c.id, c.status, c.last_seq, c.created_at, c.customer_id, c.agent_id, c.preview,
       c.last_message_at, c.agent_unread, cu.name AS customer_name,
       c.contact_email, c.contact_name, c.transcript_wanted, c.rating, c.rating_comment
FROM conversations c JOIN customers cu ON cu.id = c.customer_id
"""
_EVENT_COLUMNS = (
    "conversation_id, seq, kind, at, author_type, author_id, author_name, text, client_id, target_seq, status,"
    " agent_id, agent_name, score"
)
# Kinds whose text is searched (store/transcript_search.py); an edit is found at its target.
_SEARCHED = frozenset({"message", "note", "edit"})


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
        contact_email=row["contact_email"],
        contact_name=row["contact_name"],
        transcript_wanted=bool(row["transcript_wanted"]),
        rating=row["rating"],
        rating_comment=row["rating_comment"],
        last_message_at=row["last_message_at"],
        agent_unread=row["agent_unread"],
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
        score=row["score"],
        agent_name=row["agent_name"],
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
        row = await self.db.fetchone(SUMMARY + " WHERE c.id = ?", (conversation_id,))
        return summary_of(row) if row else None

    async def for_customer(self, customer_id: str, limit: int = 20) -> list[ConversationSummary]:
        rows = await self.db.fetchall(
            SUMMARY + " WHERE c.customer_id = ? ORDER BY c.created_at DESC LIMIT ?", (customer_id, limit)
        )
        return [summary_of(r) for r in rows]

    async def for_agent(self, agent_id: str) -> list[ConversationSummary]:
        rows = await self.db.fetchall(
            SUMMARY + " WHERE c.agent_id = ? AND c.status = 'assigned' ORDER BY c.updated_at DESC", (agent_id,)
        )
        return [summary_of(r) for r in rows]

    async def waiting(self, limit: int = 200) -> list[ConversationSummary]:
        rows = await self.db.fetchall(
            SUMMARY + " WHERE c.status = 'waiting' ORDER BY c.waiting_since, c.id LIMIT ?", (limit,)
        )
        return [summary_of(r) for r in rows]

    async def open_ones(self, limit: int = 500) -> list[ConversationSummary]:
        """Every waiting or assigned conversation, the latest active first (the All open view)."""
        rows = await self.db.fetchall(
            SUMMARY + " WHERE c.status IN ('waiting', 'assigned')"
            " ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id LIMIT ?",
            (limit,),
        )
        return [summary_of(r) for r in rows]

    async def closed(
        self, agent_id: str | None, before: tuple[int, str] | None, limit: int
    ) -> list[ConversationSummary]:
        """Closed conversations (of `agent_id`, or everyone's), last changed first, after the
        keyset `before` (updated_at, id) of the previous page."""
        where = ["c.status = 'closed'"]
        params: list[object] = []
        if agent_id is not None:
            where.append("c.agent_id = ?")
            params.append(agent_id)
        if before is not None:
            where.append("(c.updated_at, c.id) < (?, ?)")
            params += [before[0], before[1]]
        rows = await self.db.fetchall(
            SUMMARY + f" WHERE {' AND '.join(where)} ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
            (*params, limit),
        )
        return [summary_of(r) for r in rows]

    async def updated_at(self, conversation_id: str) -> int | None:
        row = await self.db.fetchone("SELECT updated_at FROM conversations WHERE id = ?", (conversation_id,))
        return int(row["updated_at"]) if row else None

    async def holds_customer(self, agent_id: str, customer_id: str) -> bool:
        """Whether the agent is answering one of this customer's conversations now."""
        row = await self.db.fetchone(
            "SELECT 1 FROM conversations WHERE agent_id = ? AND customer_id = ? AND status = 'assigned' LIMIT 1",
            (agent_id, customer_id),
        )
        return row is not None

    async def events_before(self, conversation_id: str, before: int, limit: int) -> list[StoredEvent]:
        """The `limit` events just before seq `before`, in seq order (history, read backwards)."""
        rows = await self.db.fetchall(
            f"SELECT {_EVENT_COLUMNS}, private FROM events WHERE conversation_id = ? AND seq < ?"
            " ORDER BY seq DESC LIMIT ?",
            (conversation_id, before, limit),
        )
        return [StoredEvent(event_of(r), bool(r["private"])) for r in reversed(rows)]

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

    # -------------------------------------------------------------- writes (run by db.write())

    @staticmethod
    def create(tx: Tx, customer_id: str) -> str:
        conversation_id = new_id("c")
        now = now_ms()
        tx.execute(
            "INSERT INTO conversations (id, customer_id, status, last_seq, waiting_since, created_at, updated_at)"
            " VALUES (?, ?, 'waiting', 0, ?, ?, ?)",
            (conversation_id, customer_id, now, now, now),
        )
        SupportStats.opened(tx, conversation_id, now)
        return conversation_id

    @staticmethod
    def append(tx: Tx, conversation_id: str, *, private: bool = False, **fields: Any) -> Event:
        """Give the next seq of the conversation to a new event, in the caller's transaction.

        The same transaction keeps what lists and search read: the last message's time, the
        customer messages agents have not read, and the words of messages, notes and edits.
        """
        now = now_ms()
        kind = fields["kind"]
        message = kind == "message"
        from_customer = fields.get("author_type") == "customer"
        row = tx.execute(
            "UPDATE conversations SET last_seq = last_seq + 1, updated_at = ?,"
            " last_message_at = CASE WHEN ? THEN ? ELSE last_message_at END, agent_unread = agent_unread + ?"
            " WHERE id = ? RETURNING last_seq",
            (now, message, now, int(message and from_customer), conversation_id),
        ).fetchone()
        if row is None:
            raise LookupError(conversation_id)
        event = Event(conversation_id=conversation_id, seq=int(row[0]), at=now, **fields)
        tx.execute(
            f"INSERT INTO events ({_EVENT_COLUMNS}, private) VALUES ({', '.join('?' * 15)})",
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
                event.agent_name,
                event.score,
                int(private),
            ),
        )
        if kind in _SEARCHED and event.text:
            found_at = event.target_seq if kind == "edit" else event.seq
            # At the end of the batch, with the other messages' (same transaction, one flush).
            defer(
                tx,
                "INSERT INTO transcript_search (text, conversation_id, seq) VALUES (?, ?, ?)",
                (event.text, conversation_id, found_at),
            )
        elif kind == "read" and event.author_type == "agent":
            # What is still unread after this receipt (messages may have arrived past its seq).
            tx.execute(
                "UPDATE conversations SET agent_unread = (SELECT COUNT(*) FROM events WHERE conversation_id = ?"
                " AND kind = 'message' AND author_type = 'customer' AND seq > ?) WHERE id = ?",
                (conversation_id, event.target_seq or 0, conversation_id),
            )
        SupportStats.noted(tx, event, private)
        return event

    @staticmethod
    def set_state(tx: Tx, conversation_id: str, *, status: str, agent_id: str | None, waiting: bool) -> None:
        tx.execute(
            "UPDATE conversations SET status = ?, agent_id = ?,"
            " waiting_since = CASE WHEN ? THEN COALESCE(waiting_since, ?) ELSE NULL END WHERE id = ?",
            (status, agent_id, int(waiting), now_ms(), conversation_id),
        )

    @staticmethod
    def set_preview(tx: Tx, conversation_id: str, preview: str) -> None:
        tx.execute("UPDATE conversations SET preview = ? WHERE id = ?", (preview[:140], conversation_id))

    @staticmethod
    def set_contact(tx: Tx, conversation_id: str, *, email: str | None, name: str | None, transcript: bool) -> None:
        """What the shopper left for the reply; a field they did not give keeps its value. A wish
        for the transcript is also noted where the mail's transcript job looks (store/conversation_mail.py),
        so it is mailed when the conversation closes, once."""
        tx.execute(
            "UPDATE conversations SET contact_email = COALESCE(?, contact_email),"
            " contact_name = COALESCE(?, contact_name), transcript_wanted = MAX(transcript_wanted, ?) WHERE id = ?",
            (email, name, int(transcript), conversation_id),
        )
        if transcript:
            tx.execute(
                "INSERT INTO conversation_mail (conversation_id, transcript_wanted) VALUES (?, 1)"
                " ON CONFLICT (conversation_id) DO UPDATE SET transcript_wanted = 1",
                (conversation_id,),
            )

    @staticmethod
    def set_rating(tx: Tx, conversation_id: str, score: int, comment: str | None) -> None:
        tx.execute(
            "UPDATE conversations SET rating = ?, rating_comment = ?, rated_at = ? WHERE id = ?",
            (score, comment, now_ms(), conversation_id),
        )

    @staticmethod
    def summary_in(tx: Tx, conversation_id: str) -> ConversationSummary | None:
        """The summary as seen inside the write transaction, for decisions that must not race."""
        row = tx.execute(SUMMARY + " WHERE c.id = ?", (conversation_id,)).fetchone()
        return summary_of(row) if row else None

    @staticmethod
    def open_count(tx: Tx, customer_id: str) -> int:
        row = tx.execute(
            "SELECT COUNT(*) FROM conversations WHERE customer_id = ? AND status != 'closed'", (customer_id,)
        ).fetchone()
        return int(row[0])

    @staticmethod
    def next_waiting(tx: Tx) -> str | None:
        row = tx.execute(
            "SELECT id FROM conversations WHERE status = 'waiting' ORDER BY waiting_since, id LIMIT 1"
        ).fetchone()
        return str(row[0]) if row else None

    @staticmethod
    def by_client_id_in(tx: Tx, author_type: str, author_id: str, client_id: str) -> tuple[str, int] | None:
        row = tx.execute(
            "SELECT conversation_id, seq FROM events WHERE author_type = ? AND author_id = ? AND client_id = ?",
            (author_type, author_id, client_id),
        ).fetchone()
        return (row[0], row[1]) if row else None

    @staticmethod
    def last_read(tx: Tx, conversation_id: str, author_type: str) -> int:
        row = tx.execute(
            "SELECT COALESCE(MAX(target_seq), 0) FROM events WHERE conversation_id = ? AND kind = 'read'"
            " AND author_type = ?",
            (conversation_id, author_type),
        ).fetchone()
        return int(row[0]) if row else 0
