"""The outgoing mail queue: rows written with what they say, claimed by one process at a time, settled.

Guarantees:
- `add` runs in the caller's write transaction: a mail exists only if what decided it (a reply
  batch marked mailed, an alert marked sent) committed with it. A `dedupe_key` already held makes
  the row be skipped, so a decision taken twice (two processes, a retried job) mails once.
- `claim` takes due rows in one write transaction (BEGIN IMMEDIATE holds SQLite's write lock
  across processes) and gives each to exactly one caller, with a lease (`claim_until`). A row
  whose lease ran out, because its process died, is claimable again: nothing queued is lost by a
  crash or a restart. A claim counts as an attempt, so a mail that kills its sender still ends
  as a dead letter.
- In that same transaction, a marketing mail whose customer withdrew consent (or whose
  address is gone) is set `suppressed` instead of being claimed: consent is checked at sending
  time, not only when the mail was decided.
- `settle` records outcomes only for rows still claimed by the caller: a sender whose lease
  was taken over changes nothing (the other sender's outcome stands).
- Reads see committed data only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from server.ids import new_id, now_ms
from server.store.db import Database, Tx, record, records

Status = Literal["queued", "sent", "dead", "suppressed"]


class NewMail(msgspec.Struct, kw_only=True):
    """A mail decided by a job, to be written in the job's transaction."""

    kind: str
    marketing: bool
    recipient: str
    context: dict[str, Any]
    message_id: str
    recipient_name: str | None = None
    customer_id: str | None = None
    agent_id: str | None = None
    conversation_id: str | None = None
    in_reply_to: str | None = None
    refs: str | None = None
    dedupe_key: str | None = None


class QueuedMail(msgspec.Struct):
    """A claimed mail: what the sender renders and sends."""

    id: str
    kind: str
    marketing: bool
    customer_id: str | None
    conversation_id: str | None
    recipient: str
    recipient_name: str | None
    context: dict[str, Any]
    message_id: str
    in_reply_to: str | None
    refs: str | None
    attempts: int


class MailRow(msgspec.Struct):
    """A mail as admins see it in the queue (without what it says)."""

    id: str
    kind: str
    marketing: bool
    recipient: str
    status: str
    attempts: int
    next_attempt_at: int
    last_error: str | None
    created_at: int
    sent_at: int | None


class Outcome(msgspec.Struct, frozen=True):
    """What became of one claimed mail: sent, retry at `retry_at`, dead, or released untried."""

    mail_id: str
    result: Literal["sent", "retry", "dead", "released"]
    error: str | None = None
    retry_at: int = 0


_CLAIMED = f"SELECT {', '.join(QueuedMail.__struct_fields__)} FROM mail_queue"
_ROW = f"SELECT {', '.join(MailRow.__struct_fields__)} FROM mail_queue"
_INSERT = """
INSERT OR IGNORE INTO mail_queue (id, kind, marketing, customer_id, agent_id, conversation_id, recipient,
                                  recipient_name, context, message_id, in_reply_to, refs, dedupe_key, status, attempts,
                                  next_attempt_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)
"""


def add(tx: Tx, mails: Sequence[NewMail]) -> int:
    """In the caller's write transaction: queue these mails; how many were new (not held by key)."""
    now = now_ms()
    added = 0
    for m in mails:
        added += tx.execute(
            _INSERT,
            (
                new_id("m"),
                m.kind,
                int(m.marketing),
                m.customer_id,
                m.agent_id,
                m.conversation_id,
                m.recipient,
                m.recipient_name,
                json.dumps(m.context),
                m.message_id,
                m.in_reply_to,
                m.refs,
                m.dedupe_key,
                now,
                now,
            ),
        ).rowcount
    return added


class MailQueueStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def any_due(self, now: int) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM mail_queue WHERE status = 'queued' AND next_attempt_at <= ?"
            " AND (claim_until IS NULL OR claim_until < ?) LIMIT 1",
            (now, now),
        )
        return row is not None

    async def claim(self, process_id: str, *, limit: int, lease_ms: int) -> list[QueuedMail]:
        """Up to `limit` due mails, now this process's until the lease ends (oldest due first)."""
        now = now_ms()

        def work(tx: Tx) -> list[QueuedMail]:
            due = tx.execute(
                """
                SELECT m.id, m.marketing = 1 AND (c.id IS NULL OR c.marketing_consent = 0 OR m.customer_id IS NULL)
                       AS withdrawn
                FROM mail_queue m LEFT JOIN customers c ON c.id = m.customer_id
                WHERE m.status = 'queued' AND m.next_attempt_at <= ? AND (m.claim_until IS NULL OR m.claim_until < ?)
                ORDER BY m.next_attempt_at LIMIT ?
                """,
                (now, now, limit),
            ).fetchall()
            withdrawn = [(now, r[0]) for r in due if r[1]]
            if withdrawn:
                tx.executemany(
                    "UPDATE mail_queue SET status = 'suppressed', sent_at = ?, claimed_by = NULL, claim_until = NULL,"
                    " last_error = 'no marketing consent at sending time' WHERE id = ?",
                    withdrawn,
                )
            ids = [r[0] for r in due if not r[1]]
            if not ids:
                return []
            tx.executemany(
                "UPDATE mail_queue SET claimed_by = ?, claim_until = ?, attempts = attempts + 1 WHERE id = ?",
                [(process_id, now + lease_ms, mail_id) for mail_id in ids],
            )
            marks = ",".join("?" * len(ids))
            rows = tx.execute(f"{_CLAIMED} WHERE id IN ({marks}) ORDER BY next_attempt_at", ids).fetchall()
            return records(rows, QueuedMail)

        return await self.db.write(work)

    async def settle(self, process_id: str, outcomes: Sequence[Outcome]) -> None:
        """Record what became of mails this process claimed (one transaction for all of them)."""
        if not outcomes:
            return
        now = now_ms()

        def work(tx: Tx) -> None:
            for o in outcomes:
                if o.result == "sent":
                    sql = "UPDATE mail_queue SET status = 'sent', sent_at = ?, last_error = NULL"
                    params: tuple[Any, ...] = (now,)
                elif o.result == "dead":
                    sql = "UPDATE mail_queue SET status = 'dead', last_error = ?"
                    params = (o.error,)
                elif o.result == "retry":
                    sql = "UPDATE mail_queue SET next_attempt_at = ?, last_error = ?"
                    params = (o.retry_at, o.error)
                else:  # released untried: the attempt the claim counted is given back
                    sql = "UPDATE mail_queue SET attempts = MAX(attempts - 1, 0)"
                    params = ()
                tx.execute(
                    f"{sql}, claimed_by = NULL, claim_until = NULL"
                    " WHERE id = ? AND claimed_by = ? AND status = 'queued'",
                    (*params, o.mail_id, process_id),
                )

        await self.db.write(work)

    async def listing(self, status: Status, limit: int) -> list[MailRow]:
        rows = await self.db.fetchall(f"{_ROW} WHERE status = ? ORDER BY created_at DESC LIMIT ?", (status, limit))
        return records(rows, MailRow)

    async def waiting(self) -> int:
        """Mails queued and not yet sent (for the metrics; read from the index on status)."""
        row = await self.db.fetchone("SELECT COUNT(*) AS n FROM mail_queue WHERE status = 'queued'")
        return int(row["n"]) if row else 0

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT status, COUNT(*) AS n FROM mail_queue GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    async def get(self, mail_id: str) -> MailRow | None:
        row = await self.db.fetchone(f"{_ROW} WHERE id = ?", (mail_id,))
        return record(row, MailRow) if row else None

    async def retry(self, mail_id: str) -> bool:
        """A dead letter back in the queue, due now, with its tries counted afresh."""
        changed = await self.db.run(
            "UPDATE mail_queue SET status = 'queued', attempts = 0, next_attempt_at = ?, claimed_by = NULL,"
            " claim_until = NULL WHERE id = ? AND status = 'dead'",
            (now_ms(), mail_id),
        )
        return changed > 0
