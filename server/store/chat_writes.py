"""The chat's write transactions: what the chat service may read and change while it decides.

The chat service decides inside the write transaction (may this actor write here? is it still
waiting?), so two processes cannot race. It does so through a `ChatWrite`, the unit of work
for one transaction: the queries and changes it offers are the chat's, in the shop's language;
the SQL, the connection and its row type stay here.

Guarantees:
- `ChatWrites.run(work)` runs `work` on the writer thread in one transaction (the database's
  group commit may batch it with others, each job in its own savepoint): either everything it
  changed is committed or, when it raises, nothing is; its return value is handed back after the
  commit, so what it decided may be published.
- Everything a `ChatWrite` reads sees the transaction's own changes and every committed one:
  decisions made with it cannot race with another process (SQLite's write lock).
- `append` gives the next seq of the conversation (store/conversations.py); `limited` records
  the action under every key it checks (store/limits.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from server.protocol import ConversationSummary, Event
from server.store.agents import AgentStore
from server.store.conversations import ConversationStore
from server.store.customers import CustomerStore
from server.store.db import Database, Tx
from server.store.limits import limited

T = TypeVar("T")


class EventOrigin(msgspec.Struct, frozen=True):
    """Who wrote a stored event and what it is: what an edit must check."""

    kind: str
    author_type: str
    author_id: str | None
    private: bool


class ChatWrite:
    """One write transaction of the chat (only valid inside `ChatWrites.run`)."""

    __slots__ = ("_tx",)

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    # -------------------------------------------------------------- reading, in the transaction

    def summary(self, conversation_id: str) -> ConversationSummary | None:
        return ConversationStore.summary_in(self._tx, conversation_id)

    def by_client_id(self, author_type: str, author_id: str, client_id: str) -> tuple[str, int] | None:
        """The (conversation, seq) an author's client_id was stored at, if it was."""
        return ConversationStore.by_client_id_in(self._tx, author_type, author_id, client_id)

    def event_origin(self, conversation_id: str, seq: int) -> EventOrigin | None:
        row = self._tx.execute(
            "SELECT kind, author_type, author_id, private FROM events WHERE conversation_id = ? AND seq = ?",
            (conversation_id, seq),
        ).fetchone()
        if row is None:
            return None
        return EventOrigin(row["kind"], row["author_type"], row["author_id"], bool(row["private"]))

    def last_read(self, conversation_id: str, author_type: str) -> int:
        return ConversationStore.last_read(self._tx, conversation_id, author_type)

    def open_count(self, customer_id: str) -> int:
        return ConversationStore.open_count(self._tx, customer_id)

    def next_waiting(self) -> str | None:
        return ConversationStore.next_waiting(self._tx)

    def agent_answers_chats(self, agent_id: str) -> bool:
        """Whether this account exists, is enabled and answers chats (agents and admins do)."""
        row = self._tx.execute("SELECT role, disabled FROM agents WHERE id = ?", (agent_id,)).fetchone()
        return row is not None and not row["disabled"] and row["role"] in ("agent", "admin")

    def agent_name(self, agent_id: str) -> str | None:
        return AgentStore.name_in(self._tx, agent_id)

    def least_busy_online(self, presence_ttl_ms: int) -> str | None:
        return AgentStore.least_busy_online(self._tx, presence_ttl_ms)

    def limited(self, limits: list[tuple[str, int, int]]) -> str | None:
        """The first key that reached its limit, or None after recording one action under each."""
        return limited(self._tx, limits)

    # -------------------------------------------------------------- changing

    def ensure_customer(self, customer_id: str) -> None:
        CustomerStore.ensure(self._tx, customer_id)

    def create_conversation(self, customer_id: str) -> str:
        return ConversationStore.create(self._tx, customer_id)

    def append(self, conversation_id: str, *, private: bool = False, **fields: Any) -> Event:
        return ConversationStore.append(self._tx, conversation_id, private=private, **fields)

    def set_state(self, conversation_id: str, *, status: str, agent_id: str | None, waiting: bool) -> None:
        ConversationStore.set_state(self._tx, conversation_id, status=status, agent_id=agent_id, waiting=waiting)

    def set_preview(self, conversation_id: str, preview: str) -> None:
        ConversationStore.set_preview(self._tx, conversation_id, preview)

    def set_contact(self, conversation_id: str, *, email: str | None, name: str | None, transcript: bool) -> None:
        ConversationStore.set_contact(self._tx, conversation_id, email=email, name=name, transcript=transcript)

    def set_rating(self, conversation_id: str, score: int, comment: str | None) -> None:
        ConversationStore.set_rating(self._tx, conversation_id, score, comment)


class ChatWrites:
    """Runs the chat's write transactions on the database's writer."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def run(self, work: Callable[[ChatWrite], T]) -> T:
        return await self._db.write(lambda tx: work(ChatWrite(tx)))
