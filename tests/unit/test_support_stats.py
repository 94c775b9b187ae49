"""The support report's per-conversation figures: filled in by migration 0011 for what was stored
before it, and kept by the chat's write path after it (first customer message, first public reply,
notes ignored, close and reopen, assignment, rating)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.store.conversations import ConversationStore
from server.store.db import Database, _apply, _migrations
from server.store.support_report import SupportReportStore


async def test_the_migration_fills_in_conversations_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    for version, _name, sql in _migrations():
        if version < 11:
            raw.execute("BEGIN")
            _apply(raw, version, sql)
            raw.execute("COMMIT")
    raw.execute("INSERT INTO agents (id, email, name, role, password_hash, created_at)"
                " VALUES ('a1', 'a@x', 'Sam', 'agent', 'x', 0)")
    raw.execute("INSERT INTO customers (id, name, created_at) VALUES ('cu1', 'Ann', 0)")
    raw.execute("INSERT INTO conversations (id, customer_id, status, agent_id, last_seq, created_at, updated_at,"
                " rating) VALUES ('c1', 'cu1', 'closed', 'a1', 6, 1000, 9000, 4)")
    raw.execute("INSERT INTO conversations (id, customer_id, status, last_seq, created_at, updated_at)"
                " VALUES ('c2', 'cu1', 'waiting', 1, 5000, 5000)")
    raw.executemany(
        "INSERT INTO events (conversation_id, seq, kind, author_type, author_id, text, status, private, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("c1", 1, "message", "agent", "a1", "hello, can I help?", None, 0, 1000),  # before the customer: no reply
            ("c1", 2, "message", "customer", "cu1", "my bicycle", None, 0, 2000),
            ("c1", 3, "note", "agent", "a1", "checking", None, 1, 2500),
            ("c1", 4, "message", "agent", "a1", "on its way", None, 0, 4000),
            ("c1", 5, "status", "agent", "a1", None, "closed", 0, 8000),
            ("c1", 6, "rating", "customer", "cu1", None, None, 0, 9000),
            ("c2", 1, "message", "customer", "cu1", "anyone?", None, 0, 5000),
        ],
    )
    raw.close()
    db = Database(str(path))
    await db.open()
    try:
        assert "0011_reports.sql" in db.applied
        rows = await db.fetchall("SELECT * FROM support_stats ORDER BY conversation_id")
        assert [dict(r) for r in rows] == [
            {"conversation_id": "c1", "opened_at": 1000, "first_customer_at": 2000, "first_response_at": 4000,
             "responder_id": "a1", "agent_id": "a1", "closed_at": 8000, "rating": 4},
            {"conversation_id": "c2", "opened_at": 5000, "first_customer_at": 5000, "first_response_at": None,
             "responder_id": None, "agent_id": None, "closed_at": None, "rating": None},
        ]
    finally:
        await db.close()


async def test_the_write_path_keeps_the_figures(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "new.db"))
    await db.open()
    try:
        await db.run("INSERT INTO customers (id, name, created_at) VALUES ('cu1', 'Ann', 0)")

        def chat(tx: sqlite3.Connection) -> str:
            conv = ConversationStore.create(tx, "cu1")
            ConversationStore.append(tx, conv, kind="message", author_type="agent", author_id="a0", text="hi")
            ConversationStore.append(tx, conv, kind="message", author_type="customer", author_id="cu1", text="help")
            ConversationStore.append(tx, conv, kind="note", author_type="agent", author_id="a1", text="x",
                                     private=True)
            ConversationStore.append(tx, conv, kind="assigned", author_type="system", agent_id="a1")
            ConversationStore.append(tx, conv, kind="message", author_type="agent", author_id="a1", text="sure")
            ConversationStore.append(tx, conv, kind="message", author_type="agent", author_id="a2", text="also")
            ConversationStore.append(tx, conv, kind="status", author_type="agent", author_id="a1", status="closed",
                                     agent_id="a1")
            ConversationStore.append(tx, conv, kind="rating", author_type="customer", author_id="cu1", score=2)
            return conv

        conv = await db.write(chat)
        row = await db.fetchone("SELECT * FROM support_stats WHERE conversation_id = ?", (conv,))
        assert row is not None
        assert (row["responder_id"], row["agent_id"], row["rating"]) == ("a1", "a1", 2)
        assert row["first_customer_at"] <= row["first_response_at"] <= row["closed_at"]
        assert row["opened_at"] <= row["first_customer_at"]

        def reopen(tx: sqlite3.Connection) -> None:
            ConversationStore.append(tx, conv, kind="status", author_type="agent", author_id="a3", status="assigned",
                                     agent_id="a3")

        await db.write(reopen)
        row = await db.fetchone("SELECT closed_at, agent_id FROM support_stats WHERE conversation_id = ?", (conv,))
        assert row is not None and (row["closed_at"], row["agent_id"]) == (None, "a3")
        [group] = await SupportReportStore(db).period(0, 2**62)
        assert (group.agent_id, group.responder_id, group.conversations, group.resolutions) == ("a3", "a1", 1, [])
        assert group.ratings == [0, 1, 0, 0, 0] and len(group.responses) == 1
    finally:
        await db.close()
