"""Each customer's numbered notification stream (their inbox) and what happened to each item.

Guarantees:
- Seqs: a customer's notifications are numbered 1, 2, 3... with no gap and no repeat, in the
  order their write transactions commit (the seq is computed inside the write transaction, and
  SQLite has one writer across processes). Several drafts for one customer in one call get
  consecutive seqs in the order given.
- Exactly once: a draft whose `dedupe_key` the customer already holds (stored before, or earlier
  in the same call) is not stored; the unique index settles races between processes.
- The daily cap is decided in the write transaction, counting what is stored and what the
  call adds: campaigns racing to one customer from several tasks or processes cannot together
  pass it. Only `marketing` drafts count and are capped.
- `append` and `append_for_connected` are one write transaction each: the notifications and
  the vouchers they carry (`VoucherBatch`) are stored together or not at all, and what they
  return was read in that transaction (store, then publish: return values are committed data).
- Reads (`after`, `latest_unexpired`, `last_seqs`, ...) see committed data only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import msgspec

from server.ids import now_ms
from server.protocol import Notification, NotificationKind, OrderStatus, VoucherInfo
from server.store import vouchers
from server.store.db import Database, Tx, record, records
from server.store.vouchers import VoucherBatch


class Draft(msgspec.Struct, kw_only=True):
    """A notification about to be stored for one customer."""

    kind: NotificationKind
    marketing: bool
    title: str
    body: str
    url: str | None = None
    data: dict[str, Any] | None = None
    # The voucher the notification carries (issued in the same transaction, from a VoucherBatch).
    voucher: VoucherInfo | None = None
    expires_at: int | None = None
    campaign_id: str | None = None
    # Exactly once: a second draft with the same key for the same customer is not stored.
    dedupe_key: str | None = None


class StoredNotification(msgspec.Struct):
    """A notification as stored, with the voucher it carries as that voucher is now."""

    customer_id: str
    seq: int
    kind: NotificationKind
    title: str
    body: str
    at: int
    marketing: bool
    url: str | None
    data: dict[str, Any] | None
    campaign_id: str | None
    expires_at: int | None
    v_code: str | None
    v_kind: str | None
    v_amount: float | None
    v_currency: str | None
    v_expires_at: int | None
    v_redeemed: bool | None

    def notification(self) -> Notification:
        """The frame the customer is sent."""
        voucher = None
        if self.v_code is not None:
            voucher = VoucherInfo(
                code=self.v_code,
                kind="percent" if self.v_kind == "percent" else "amount",
                amount=self.v_amount or 0.0,
                currency=self.v_currency,
                expires_at=self.v_expires_at,
                redeemed=bool(self.v_redeemed),
            )
        return Notification(
            seq=self.seq,
            kind=self.kind,
            title=self.title,
            body=self.body,
            at=self.at,
            marketing=self.marketing,
            url=self.url,
            data=self.data,
            voucher=voucher,
            campaign_id=self.campaign_id,
            expires_at=self.expires_at,
        )


class Delivery(NamedTuple):
    """One notification for one customer, to hand to their sockets."""

    customer_id: str
    notification: Notification


class HistoryItem(msgspec.Struct):
    """A notification as the shop follows it: what was sent and what the customer did with it."""

    seq: int
    kind: str
    title: str
    campaign_id: str | None
    created_at: int
    actions: list[str]


_SELECT = """
SELECT n.customer_id, n.seq, n.kind, n.marketing, n.campaign_id, n.title, n.body, n.url, NULLIF(n.data, '{}') AS data,
       n.expires_at, n.created_at AS at, v.code AS v_code, v.kind AS v_kind, v.amount AS v_amount,
       v.currency AS v_currency, v.expires_at AS v_expires_at, v.redeemed_at IS NOT NULL AS v_redeemed
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
# `_SELECT` holds braces ('{}'), so these take their placeholders by `_IDS.replace`, not `format`.
_IDS = "/*ids*/"
_WITH_KEY = f"{_SELECT} WHERE n.customer_id IN ({_IDS}) AND n.dedupe_key = ? ORDER BY n.customer_id"
_STAMPED = f"{_SELECT} WHERE n.customer_id IN ({_IDS}) AND n.created_at = ? ORDER BY n.customer_id, n.seq"
_HISTORY = """
SELECT n.seq, n.kind, n.title, n.campaign_id, n.created_at,
       (SELECT json_group_array(action) FROM (SELECT a.action FROM notification_actions a
        WHERE a.customer_id = n.customer_id AND a.seq = n.seq ORDER BY a.action)) AS actions
FROM notifications n WHERE n.customer_id = ? ORDER BY n.seq DESC LIMIT ?
"""


_ORDERS = """
SELECT order_id, status, title, text, url, at FROM (
  SELECT json_extract(data, '$.order_id') AS order_id, json_extract(data, '$.status') AS status, title,
         body AS text, url, created_at AS at, seq,
         ROW_NUMBER() OVER (PARTITION BY json_extract(data, '$.order_id') ORDER BY seq DESC) AS latest
  FROM notifications WHERE customer_id = ? AND kind = 'order'
) WHERE latest = 1 AND order_id IS NOT NULL ORDER BY seq DESC LIMIT ?
"""


class DailyCap(NamedTuple):
    """At most `limit` marketing notifications per customer stored after `since` (ms)."""

    limit: int
    since: int


class Appended(NamedTuple):
    at: int  # the time stamped on everything this batch stored
    customer_ids: list[str]  # whose drafts were stored, once per stored draft, in batch order
    seqs: list[int]  # the seq each of those was stored with, in the same order
    drafts: list[Draft]  # and the draft itself


def _chunks(customer_ids: Sequence[str], size: int = 500) -> Iterator[tuple[list[str], str]]:
    """Ids in chunks small enough for one `IN (...)`, each with its placeholders."""
    for start in range(0, len(customer_ids), size):
        chunk = list(customer_ids[start : start + size])
        yield chunk, ",".join("?" * len(chunk))


def notification_from(draft: Draft, seq: int, at: int) -> Notification:
    """The notification as stored from this draft (what `StoredNotification.notification` reads back)."""
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


def _deliveries(stored: list[StoredNotification]) -> list[Delivery]:
    return [Delivery(s.customer_id, s.notification()) for s in stored]


class InboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(
        self,
        drafts: Sequence[tuple[str, Draft]],
        *,
        daily_cap: DailyCap | None = None,
        vouchers: VoucherBatch | None = None,
        caps: Sequence[DailyCap] = (),
    ) -> tuple[int, list[Delivery]]:
        """Store drafts for customers (internal ids), with the vouchers of `vouchers` for those
        whose draft was stored (`caps`: more caps besides `daily_cap`, all of them kept).
        Returns how many were stored, and what to publish: every
        notification stored for those customers by this transaction, read back in it."""
        if not drafts:
            return 0, []

        def work(tx: Tx) -> tuple[int, list[Delivery]]:
            appended = InboxStore.append_many(tx, drafts, daily_cap=daily_cap, caps=caps)
            if not appended.customer_ids:
                return 0, []
            if vouchers is not None:
                _issue(tx, vouchers, appended)
            return len(appended.customer_ids), _deliveries(InboxStore.stored_now(tx, appended))

        return await self.db.write(work)

    async def append_for_connected(
        self,
        customer_ids: Sequence[str],
        drafts: Sequence[tuple[str, Draft]],
        dedupe_key: str,
        *,
        daily_cap: DailyCap | None = None,
        vouchers: VoucherBatch | None = None,
        caps: Sequence[DailyCap] = (),
    ) -> tuple[int, list[Delivery]]:
        """A broadcast's share for customers connected to one process: store `drafts` (all with
        `dedupe_key`), then return, for each of `customer_ids` who holds it, the notification
        with that key: stored now (built from the draft), or before by another process serving
        another tab of theirs (read in this write transaction, so whatever another process
        committed for the key is seen). Returns how many were stored now, and that list."""
        if not drafts:
            return 0, await self.with_key(customer_ids, dedupe_key)

        def work(tx: Tx) -> tuple[int, list[Delivery]]:
            appended = InboxStore.append_many(tx, drafts, daily_cap=daily_cap, caps=caps)
            if vouchers is not None and appended.customer_ids:
                _issue(tx, vouchers, appended)
            fresh = set(appended.customer_ids)
            others = [cid for cid in customer_ids if cid not in fresh]
            found = [
                Delivery(cid, notification_from(draft, seq, appended.at))
                for cid, seq, draft in zip(appended.customer_ids, appended.seqs, appended.drafts, strict=True)
            ]
            if others:
                found += _deliveries(InboxStore.stored_with_key(tx, others, dedupe_key))
            return len(appended.customer_ids), found

        return await self.db.write(work)

    @staticmethod
    def append_many(
        tx: Tx, drafts: Sequence[tuple[str, Draft]], *, daily_cap: DailyCap | None = None, caps: Sequence[DailyCap] = ()
    ) -> Appended:
        """Store drafts for customers, in the caller's transaction (inside store/ only: services
        call `append`, the reminders' firing runs this in its own); duplicates by key are skipped
        (against what is stored and within the batch). Several drafts for one customer get
        consecutive seqs in batch order. With `daily_cap`, a marketing draft for a customer who
        reached it is skipped: decided here, in the write transaction, so campaigns racing to one
        customer from several tasks or processes cannot together pass it. `caps`: more caps (a
        campaign's own), each kept the same way.
        """
        every_cap = [*([daily_cap] if daily_cap is not None else []), *caps]
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
            marketing: list[dict[str, int]] = []
            if every_cap and any(d.marketing for _, d in batch):
                for cap in every_cap:
                    found = tx.execute(_MARKETING_SINCE.format(marks), (*customers, cap.since))
                    marketing.append({r[0]: r[1] for r in found})
            rows: list[tuple[Any, ...]] = []
            for cid, d in batch:
                if d.dedupe_key is not None and (cid, d.dedupe_key) in held:
                    continue
                if marketing and d.marketing:
                    pairs = zip(every_cap, marketing, strict=True)
                    if any(held_now.get(cid, 0) >= cap.limit for cap, held_now in pairs):
                        continue
                    for held_now in marketing:
                        held_now[cid] = held_now.get(cid, 0) + 1
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
    def stored_now(tx: Tx, appended: Appended) -> list[StoredNotification]:
        """What `append_many` just stored, read back in its transaction (with the vouchers as
        stored), by customer then seq. Only those rows: another batch stamped in the same
        millisecond is not repeated."""
        stored = set(zip(appended.customer_ids, appended.seqs, strict=True))
        return [
            item
            for chunk, marks in _chunks(sorted({cid for cid, _ in stored}))
            for item in records(tx.execute(_STAMPED.replace(_IDS, marks), (*chunk, appended.at)), StoredNotification)
            if (item.customer_id, item.seq) in stored
        ]

    @staticmethod
    def stored_with_key(tx: Tx, customer_ids: Sequence[str], dedupe_key: str) -> list[StoredNotification]:
        """The notification with this dedupe key of each of these customers who has one."""
        return [
            record(row, StoredNotification)
            for chunk, marks in _chunks(customer_ids)
            for row in tx.execute(_WITH_KEY.replace(_IDS, marks), (*chunk, dedupe_key))
        ]

    async def with_key(self, customer_ids: Sequence[str], dedupe_key: str) -> list[Delivery]:
        """The notification with this dedupe key of each of these customers who has one."""
        found: list[StoredNotification] = []
        for chunk, marks in _chunks(customer_ids):
            rows = await self.db.fetchall(_WITH_KEY.replace(_IDS, marks), (*chunk, dedupe_key))
            found += records(rows, StoredNotification)
        return _deliveries(found)

    async def after(self, customer_id: str, after: int, limit: int) -> list[Notification]:
        """A customer's notifications after seq `after`, in seq order (expired ones included)."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE n.customer_id = ? AND n.seq > ? ORDER BY n.seq LIMIT ?", (customer_id, after, limit)
        )
        return [s.notification() for s in records(rows, StoredNotification)]

    async def latest_unexpired(self, customer_id: str, limit: int) -> list[Notification]:
        """A customer's `limit` latest unexpired notifications, in seq order."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE n.customer_id = ? AND (n.expires_at IS NULL OR n.expires_at > ?)"
            " ORDER BY n.seq DESC LIMIT ?",
            (customer_id, now_ms(), limit),
        )
        return [s.notification() for s in records(rows[::-1], StoredNotification)]

    async def last_seqs(self, customer_ids: list[str]) -> dict[str, int]:
        """Each known customer's highest seq (0: none yet); unknown customers are left out."""
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
        """(whether the customer has notification `seq`, the campaign it came from)."""
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

    async def orders(self, customer_id: str, limit: int) -> list[OrderStatus]:
        """A customer's most recently updated orders, each with its latest status (from the
        order updates the shop posted)."""
        return records(await self.db.fetchall(_ORDERS, (customer_id, limit)), OrderStatus)

    async def history(self, customer_id: str, limit: int) -> list[HistoryItem]:
        """A customer's latest notifications, newest first, each with the actions recorded on it."""
        return records(await self.db.fetchall(_HISTORY, (customer_id, limit)), HistoryItem)


def _issue(tx: Tx, batch: VoucherBatch, appended: Appended) -> None:
    # Only for the customers whose notification (carrying the code) was stored now.
    vouchers.issue(tx, batch, [cid for cid in dict.fromkeys(appended.customer_ids) if cid in batch.codes])
