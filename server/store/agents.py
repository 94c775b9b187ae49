"""Agents (agents, marketers, admins) and their presence across server processes.

Guarantees:
- An e-mail names at most one account, whatever its case (a UNIQUE NOCASE column): a second
  `create` with it raises sqlite3.IntegrityError and stores nothing.
- `update` changes only the columns in EDITABLE, atomically, and returns the account as changed.
- `heartbeat` replaces all of one process's presence rows in one transaction; `presence` and
  `least_busy_online` ignore rows older than the TTL they are given, so a crashed process's
  agents go offline by themselves. `least_busy_online` runs in the caller's write transaction:
  two processes assigning at once see each other's assignments (SQLite's write lock).
"""

from __future__ import annotations

import msgspec

from server.ids import new_id, now_ms
from server.protocol import AgentInfo, PresenceStatus
from server.store.db import Database, Row, Tx


class AgentRecord(msgspec.Struct, frozen=True):
    id: str
    email: str
    name: str
    role: str
    password_hash: str
    max_concurrent: int
    disabled: bool
    created_at: int


def agent_record(row: Row) -> AgentRecord:
    """From a row holding the agents table's columns (also as part of a join)."""
    return AgentRecord(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        password_hash=row["password_hash"],
        max_concurrent=row["max_concurrent"],
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
    )


_record = agent_record
# What an admin may change of an agent; column names never come from input.
EDITABLE = frozenset({"name", "role", "max_concurrent", "disabled", "password_hash"})


class AgentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, *, email: str, name: str, role: str, password_hash: str, max_concurrent: int) -> str:
        agent_id = new_id("a")
        await self.db.run(
            "INSERT INTO agents (id, email, name, role, password_hash, max_concurrent, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (agent_id, email, name, role, password_hash, max_concurrent, now_ms()),
        )
        return agent_id

    async def count(self, role: str | None = None) -> int:
        if role is None:
            row = await self.db.fetchone("SELECT COUNT(*) AS n FROM agents")
        else:
            row = await self.db.fetchone("SELECT COUNT(*) AS n FROM agents WHERE role = ?", (role,))
        return int(row["n"]) if row else 0

    async def everyone(self) -> list[AgentRecord]:
        return [_record(r) for r in await self.db.fetchall("SELECT * FROM agents ORDER BY name, email")]

    async def update(self, agent_id: str, fields: dict[str, object]) -> AgentRecord | None:
        """Change the named columns (of EDITABLE); the agent as changed, None if there is none."""
        unknown = set(fields) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        if not fields:
            return await self.by_id(agent_id)
        assignments = ", ".join(f"{name} = ?" for name in fields)
        rows = await self.db.run_returning(
            f"UPDATE agents SET {assignments} WHERE id = ? RETURNING *", (*fields.values(), agent_id)
        )
        return _record(rows[0]) if rows else None

    async def by_email(self, email: str) -> AgentRecord | None:
        row = await self.db.fetchone("SELECT * FROM agents WHERE email = ?", (email,))
        return _record(row) if row else None

    async def by_id(self, agent_id: str) -> AgentRecord | None:
        row = await self.db.fetchone("SELECT * FROM agents WHERE id = ?", (agent_id,))
        return _record(row) if row else None


    # -------------------------------------------------------------- presence

    @staticmethod
    def least_busy_online(tx: Tx, ttl_ms: int) -> str | None:
        """The online agent with the fewest assigned chats, under their cap; ties: longest idle."""
        row = tx.execute(
            """
            SELECT a.id,
                   (SELECT COUNT(*) FROM conversations c WHERE c.agent_id = a.id AND c.status = 'assigned') AS load,
                   (SELECT MAX(c.updated_at) FROM conversations c WHERE c.agent_id = a.id) AS last_at
            FROM agents a
            WHERE a.disabled = 0 AND a.role IN ('agent', 'admin')
              AND EXISTS (SELECT 1 FROM agent_presence p
                          WHERE p.agent_id = a.id AND p.status = 'online' AND p.heartbeat_at >= ?)
              AND (SELECT COUNT(*) FROM conversations c WHERE c.agent_id = a.id AND c.status = 'assigned')
                  < a.max_concurrent
            ORDER BY load, COALESCE(last_at, 0), a.id
            LIMIT 1
            """,
            (now_ms() - ttl_ms,),
        ).fetchone()
        return str(row[0]) if row else None

    async def heartbeat(self, process_id: str, statuses: dict[str, tuple[str, int]]) -> None:
        """Record this process's agents: {agent_id: (status, connections)}; others of it vanish."""
        now = now_ms()

        def work(tx: Tx) -> None:
            tx.execute("DELETE FROM agent_presence WHERE process_id = ?", (process_id,))
            tx.executemany(
                "INSERT INTO agent_presence (agent_id, process_id, status, connections, heartbeat_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(a, process_id, s, n, now) for a, (s, n) in statuses.items()],
            )

        await self.db.write(work)

    async def presence(self, ttl_ms: int) -> list[AgentInfo]:
        """Every agent with their status; online beats away across processes."""
        rows = await self.db.fetchall(
            """
            SELECT a.id, a.name, a.role,
                   COALESCE(MIN(CASE p.status WHEN 'online' THEN 0 WHEN 'away' THEN 1 END), 2) AS rank
            FROM agents a LEFT JOIN agent_presence p ON p.agent_id = a.id AND p.heartbeat_at >= ?
            WHERE a.disabled = 0 AND a.role IN ('agent', 'admin')
            GROUP BY a.id ORDER BY a.name
            """,
            (now_ms() - ttl_ms,),
        )
        names: tuple[PresenceStatus, ...] = ("online", "away", "offline")
        return [AgentInfo(id=r["id"], name=r["name"], role=r["role"], status=names[r["rank"]]) for r in rows]
