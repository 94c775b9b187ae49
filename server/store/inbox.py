"""Each customer's numbered notification stream (their inbox) and what happened to each item."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import msgspec

from server.ids import now_ms
from server.protocol import Notification, NotificationKind, VoucherInfo
from server.store.db import Database, Row, Tx


class Draft(msgspec.Struct, kw_only=True):
    """A notification about to be stored for one customer."""

    kind: NotificationKind
    marketing: bool
    title: str
    body: str
    url: str | None = None
    data: dict[str, Any] | None = None
    # The voucher the notification carries (issued in the same transaction by the caller).
    voucher: VoucherInfo | None = None
    expires_at: int | None = None
    campaign_id: str | None = None
    # Exactly once: a second draft with the same key for the same customer is not stored.
    dedupe_key: str | None = None


_SELECT = """
SELECT n.customer_id, n.seq, n.kind, n.marketing, n.campaign_id, n.title, n.body, n.url, n.data, n.expires_at,
       n.created_at, v.code AS v_code, v.kind AS v_kind, v.amount AS v_amount, v.currency AS v_currency,
       v.expires_at AS v_expires_at, v.redeemed_at AS v_redeemed_at
FROM notifications n LEFT JOIN vouchers v ON v.code = n.voucher_code
"""

# Seq = the customer's highest + 1. A batch looks up the highest seqs and the dedupe keys
# already stored with one query each per chunk, then inserts plain rows: half the cost of
# computing both per row inside the INSERT. The write transaction makes it race-free across
# processes.
_INSERT = """
INSERT INTO notifications (customer_id, seq, kind, marketing, campaign_id, dedupe_key, title, body, url, data,
                           voucher_code, expires_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_LAST_SEQS = "SELECT customer_id, MAX(seq) FROM notifications WHERE customer_id IN ({}) GROUP BY customer_id"
_KEYS_HELD = "SELECT customer_id, dedupe_key FROM notifications WHERE customer_id IN ({}) AND dedupe_key IN ({})"
_MARKETING_SINCE = (
    "SELECT customer_id, COUNT(*) FROM notifications"
    " WHERE customer_id IN ({}) AND marketing = 1 AND created_at > ? GROUP BY customer_id"
)


class DailyCap(NamedTuple):
    """At most `limit` marketing notifications per customer stored after `since` (ms)."""

    limit: int
    since: int


class Appended(NamedTuple):
    at: int  # the time stamped on what was stored, for `rows_since`
    customer_ids: list[str]  # whose drafts were stored, once per stored draft, in batch order
    seqs: list[int]  # the seq each of those was stored with, in the same order
    drafts: list[Draft]  # and the draft itself


_WITH_KEY = f"{_SELECT} WHERE n.customer_id IN ({{}}) AND n.dedupe_key = ? ORDER BY n.customer_id"


def _chunks(customer_ids: Sequence[str], size: int = 500) -> Iterator[tuple[list[str], str]]:
    """Ids in chunks small enough for one `IN (...)`, each with its placeholders."""
    for start in range(0, len(customer_ids), size):
        chunk = list(customer_ids[start : start + size])
        yield chunk, ",".join("?" * len(chunk))


def notification_from(draft: Draft, seq: int, at: int) -> Notification:
    """The notification as stored from this draft (what `notification_of` would read back)."""
    return Notification(
        seq=seq,
        kind=draft.kind,
        title=draft.title,
        body=draft.body,
        at=at,
        marketing=draft.marketing,
        url=draft.url,
        data=draft.data or None,
        voucher=draft.voucher,
        campaign_id=draft.campaign_id,
        expires_at=draft.expires_at,
    )


def notification_of(row: Row) -> Notification:
    voucher = None
    if row["v_code"] is not None:
        voucher = VoucherInfo(
            code=row["v_code"],
            kind=row["v_kind"],
            amount=row["v_amount"],
            currency=row["v_currency"],
            expires_at=row["v_expires_at"],
            redeemed=row["v_redeemed_at"] is not None,
        )
    data = json.loads(row["data"]) if row["data"] and row["data"] != "{}" else None
    return Notification(
        seq=row["seq"],
        kind=row["kind"],
        title=row["title"],
        body=row["body"],
        at=row["created_at"],
        marketing=bool(row["marketing"]),
        url=row["url"],
        data=data,
        voucher=voucher,
        campaign_id=row["campaign_id"],
        expires_at=row["expires_at"],
    )


class InboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def append_many(tx: Tx, drafts: Sequence[tuple[str, Draft]], *, daily_cap: DailyCap | None = None) -> Appended:
        """Store drafts for customers, in the caller's transaction; duplicates by key are skipped
        (against what is stored and within the batch). Several drafts for one customer get
        consecutive seqs in batch order. With `daily_cap`, a marketing draft for a customer who
        reached it is skipped: decided here, in the write transaction, so campaigns racing to one
        customer from several tasks or processes cannot together pass it.
        """
        now = now_ms()
        stored: list[str] = []
        seqs: list[int] = []
        kept: list[Draft] = []
        for start in range(0, len(drafts), 500):
            batch = drafts[start : start + 500]
            customers = sorted({cid for cid, _ in batch})
            marks = ",".join("?" * len(customers))
            last: dict[str, int] = {r[0]: r[1] for r in tx.execute(_LAST_SEQS.format(marks), customers)}
            keys = sorted({d.dedupe_key for _, d in batch if d.dedupe_key is not None})
            held: set[tuple[str, str]] = set()
            if keys:
                found = tx.execute(_KEYS_HELD.format(marks, ",".join("?" * len(keys))), (*customers, *keys))
                held = {(r[0], r[1]) for r in found}
            marketing: dict[str, int] = {}
            if daily_cap is not None and any(d.marketing for _, d in batch):
                found = tx.execute(_MARKETING_SINCE.format(marks), (*customers, daily_cap.since))
                marketing = {r[0]: r[1] for r in found}
            rows: list[tuple[Any, ...]] = []
            for cid, d in batch:
                if d.dedupe_key is not None and (cid, d.dedupe_key) in held:
                    continue
                if daily_cap is not None and d.marketing:
                    if marketing.get(cid, 0) >= daily_cap.limit:
                        continue
                    marketing[cid] = marketing.get(cid, 0) + 1
                if d.dedupe_key is not None:
                    held.add((cid, d.dedupe_key))
                stored.append(cid)
                seq = last[cid] = last.get(cid, 0) + 1
                seqs.append(seq)
                kept.append(d)
                rows.append(
                    (
                        cid,
                        seq,
                        d.kind,
                        int(d.marketing),
                        d.campaign_id,
                        d.dedupe_key,
                        d.title,
                        d.body,
                        d.url,
                        json.dumps(d.data) if d.data else "{}",
                        d.voucher.code if d.voucher is not None else None,
                        d.expires_at,
                        now,
                    )
                )
            tx.executemany(_INSERT, rows)
        return Appended(now, stored, seqs, kept)

    @staticmethod
    def rows_since(tx: Tx, customer_ids: Sequence[str], since: int) -> list[Row]:
        """The notifications stored for these customers at or after `since` (a batch just written)."""
        sql = f"{_SELECT} WHERE n.customer_id IN ({{}}) AND n.created_at >= ? ORDER BY n.customer_id, n.seq"
        return [row for chunk, marks in _chunks(customer_ids) for row in tx.execute(sql.format(marks), (*chunk, since))]

    @staticmethod
    def rows_with_key(tx: Tx, customer_ids: Sequence[str], dedupe_key: str) -> list[Row]:
        """The notification with this dedupe key of each of these customers who has one."""
        return [
            row
            for chunk, marks in _chunks(customer_ids)
            for row in tx.execute(_WITH_KEY.format(marks), (*chunk, dedupe_key))
        ]

    async def with_key(self, customer_ids: Sequence[str], dedupe_key: str) -> list[Row]:
        """`rows_with_key` outside a write transaction."""
        rows: list[Row] = []
        for chunk, marks in _chunks(customer_ids):
            rows += await self.db.fetchall(_WITH_KEY.format(marks), (*chunk, dedupe_key))
        return rows

    async def after(self, customer_id: str, after: int, limit: int) -> list[Row]:
        return await self.db.fetchall(
            f"{_SELECT} WHERE n.customer_id = ? AND n.seq > ? ORDER BY n.seq LIMIT ?", (customer_id, after, limit)
        )

    async def latest_unexpired(self, customer_id: str, limit: int) -> list[Row]:
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE n.customer_id = ? AND (n.expires_at IS NULL OR n.expires_at > ?)"
            " ORDER BY n.seq DESC LIMIT ?",
            (customer_id, now_ms(), limit),
        )
        return rows[::-1]

    async def last_seqs(self, customer_ids: list[str]) -> dict[str, int]:
        if not customer_ids:
            return {}
        marks = ",".join("?" * len(customer_ids))
        rows = await self.db.fetchall(
            f"SELECT id, (SELECT MAX(seq) FROM notifications WHERE customer_id = customers.id) AS last"
            f" FROM customers WHERE id IN ({marks})",
            customer_ids,
        )
        return {r["id"]: r["last"] or 0 for r in rows}

    async def campaign_of(self, customer_id: str, seq: int) -> tuple[bool, str | None]:
        row = await self.db.fetchone(
            "SELECT campaign_id FROM notifications WHERE customer_id = ? AND seq = ?", (customer_id, seq)
        )
        return (row is not None, row["campaign_id"] if row else None)

    async def record_action(self, customer_id: str, seq: int, action: str, campaign_id: str | None) -> bool:
        """True when this action is new for this notification (repeats are not counted twice)."""
        added = await self.db.run(
            "INSERT OR IGNORE INTO notification_actions (customer_id, seq, action, campaign_id, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (customer_id, seq, action, campaign_id, now_ms()),
        )
        return added > 0
