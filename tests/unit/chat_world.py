"""A small chat history for the workspace's unit tests: a real SQLite file written by the stores."""

from __future__ import annotations

from typing import Any

from server.ids import new_id
from server.protocol import Event
from server.store.conversations import ConversationStore
from server.store.customers import CustomerStore
from server.store.db import Database, Tx


async def customer(db: Database, name: str | None = None, *, external_id: str | None = None,
                   email: str | None = None) -> str:
    customer_id = new_id("cu")

    def work(tx: Tx) -> None:
        CustomerStore.ensure(tx, customer_id)
        tx.execute("UPDATE customers SET name = ?, email = ?, external_id = ? WHERE id = ?",
                   (name, email, external_id, customer_id))

    await db.write(work)
    return customer_id


async def agent(db: Database, name: str, role: str = "agent") -> str:
    agent_id = new_id("a")
    await db.run("INSERT INTO agents (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, 'x', 0)",
                 (agent_id, f"{agent_id}@shop.test", name, role))
    return agent_id


async def conversation(db: Database, customer_id: str) -> str:
    return await db.write(lambda tx: ConversationStore.create(tx, customer_id))


async def say(db: Database, conversation_id: str, text: str, *, by: str = "customer", author_id: str | None = None,
              note: bool = False, **fields: Any) -> Event:
    """A message (or note) stored as the chat service stores it."""
    kind = "note" if note else "message"

    def work(tx: Tx) -> Event:
        event = ConversationStore.append(tx, conversation_id, private=note, kind=kind, text=text, author_type=by,
                                         author_id=author_id, author_name=fields.pop("author_name", None), **fields)
        if not note:
            ConversationStore.set_preview(tx, conversation_id, text)
        return event

    stored: Event = await db.write(work)
    return stored


async def record(db: Database, conversation_id: str, **fields: Any) -> Event:
    """Any other event (read, assigned, status, edit)."""
    event: Event = await db.write(lambda tx: ConversationStore.append(tx, conversation_id, **fields))
    return event


async def assign(db: Database, conversation_id: str, agent_id: str | None, status: str = "assigned") -> None:
    await db.write(lambda tx: ConversationStore.set_state(
        tx, conversation_id, status=status, agent_id=agent_id, waiting=status == "waiting"))
