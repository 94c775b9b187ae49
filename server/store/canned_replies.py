"""Canned replies as stored: a title, a shortcut agents type after '/', and a template body.

Guarantees: a shortcut names one reply (UNIQUE, case-insensitive; a second one is refused with
sqlite3.IntegrityError, the caller's conflict); reads see committed data only.
"""

from __future__ import annotations

import msgspec

from server.ids import new_id, now_ms
from server.store.db import Database, record, records


class CannedReply(msgspec.Struct):
    id: str
    title: str
    shortcut: str
    body: str
    created_by: str | None
    created_at: int
    updated_at: int


_SELECT = f"SELECT {', '.join(CannedReply.__struct_fields__)} FROM canned_replies"
# What an admin may change; column names never come from input.
EDITABLE = frozenset({"title", "shortcut", "body"})


class CannedReplyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def everyone(self) -> list[CannedReply]:
        return records(await self.db.fetchall(f"{_SELECT} ORDER BY shortcut COLLATE NOCASE"), CannedReply)

    async def get(self, reply_id: str) -> CannedReply | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE id = ?", (reply_id,))
        return record(row, CannedReply) if row else None

    async def create(self, *, title: str, shortcut: str, body: str, created_by: str | None) -> CannedReply:
        reply_id = new_id("cr")
        now = now_ms()
        await self.db.run(
            "INSERT INTO canned_replies (id, title, shortcut, body, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (reply_id, title, shortcut, body, created_by, now, now),
        )
        created = await self.get(reply_id)
        assert created is not None  # noqa: S101 - committed just above
        return created

    async def update(self, reply_id: str, fields: dict[str, str]) -> CannedReply | None:
        """Change the named columns (of EDITABLE); the reply as changed, None if there is none."""
        unknown = set(fields) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        assignments = "".join(f"{name} = ?, " for name in fields)
        rows = await self.db.run_returning(
            f"UPDATE canned_replies SET {assignments}updated_at = ? WHERE id = ?"
            f" RETURNING {', '.join(CannedReply.__struct_fields__)}",
            (*fields.values(), now_ms(), reply_id),
        )
        return record(rows[0], CannedReply) if rows else None

    async def delete(self, reply_id: str) -> bool:
        return await self.db.run("DELETE FROM canned_replies WHERE id = ?", (reply_id,)) > 0
