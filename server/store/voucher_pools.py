"""Voucher pools as stored: the pools, their imported codes, their issues to segments, batch by batch.

Guarantees:
- An issued pool code is a row of `vouchers` (with `pool_id`), written in the same write
  transaction as the notification that carries it to the customer (`InboxStore.append_many`):
  no code is issued that its customer was not told of, and the existing redemption
  (`VoucherStore.redeem`, one conditional UPDATE) is the one way a pool code is redeemed.
- One per customer: the notification's dedupe key is `pool:<id>` for such a pool, unique per
  customer (the inbox's unique index), and the code is written only for customers whose
  notification was stored, so however many issues race, a customer holds at most one code.
  Other pools use `pool:<id>:<issue id>`: one code per customer per issue.
- An imported code is unique across every voucher and every pool (its primary key and a
  look-up in `vouchers`, in the importing transaction); issuing moves it from
  `voucher_pool_codes` to `vouchers` in that transaction, so a code is handed out once.
- One `issue_batch` is one write transaction over at most `limit` members, in customer id
  order from where the previous batch ended, and records the issue's progress in it: a batch
  either happened entirely (codes, notifications, progress) or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import NamedTuple

import msgspec

from server.ids import new_id, now_ms
from server.protocol import VoucherInfo
from server.store.audience import Selection, where
from server.store.db import Database, Tx, record, records
from server.store.inbox import Delivery, Draft, InboxStore, StoredNotification


class NameTaken(Exception):
    """A pool with this name exists."""


class PoolFields(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    amount: float
    currency: str | None
    expires_at: int | None
    one_per_customer: bool
    source: str
    created_by: str | None


class PoolRecord(msgspec.Struct):
    """A pool with its counts as of the read."""

    id: str
    name: str
    kind: str
    amount: float
    currency: str | None
    expires_at: int | None
    one_per_customer: bool
    source: str
    created_at: int
    available: int
    issued: int
    redeemed: int
    expired: int


class PoolCode(msgspec.Struct):
    """One code of a pool: issued (with its customer) or imported and not issued yet."""

    code: str
    customer: str | None
    customer_name: str | None
    issued_at: int | None
    redeemed_at: int | None
    redeemed_order: str | None
    expires_at: int | None


class IssueRecord(msgspec.Struct):
    id: str
    pool_id: str
    segment_id: str
    status: str
    members: int
    issued: int
    already_held: int
    no_consent: int
    no_code: int
    last_customer: str
    started_at: int
    finished_at: int | None


class Imported(msgspec.Struct):
    imported: int
    # Codes refused, each once: already held by a voucher or a pool, or repeated in the list.
    duplicates: list[str]


# Counts: issued, redeemed and expired from the pool's vouchers (an index on pool_id), available
# from its imported codes not issued yet.
_POOLS = """
SELECT p.id, p.name, p.kind, p.amount, p.currency, p.expires_at, p.one_per_customer, p.source, p.created_at,
       (SELECT COUNT(*) FROM voucher_pool_codes c WHERE c.pool_id = p.id) AS available,
       (SELECT COUNT(*) FROM vouchers v WHERE v.pool_id = p.id) AS issued,
       (SELECT COUNT(*) FROM vouchers v WHERE v.pool_id = p.id AND v.redeemed_at IS NOT NULL) AS redeemed,
       (SELECT COUNT(*) FROM vouchers v WHERE v.pool_id = p.id AND v.redeemed_at IS NULL
          AND v.expires_at IS NOT NULL AND v.expires_at <= ?) AS expired
FROM voucher_pools p
"""
# A pool's codes page by page: its issued codes, the latest first (an index), then its imported
# codes not issued yet, by code (their primary key order within the pool's index).
_ISSUED_CODES = """
SELECT v.code, c.external_id AS customer, c.name AS customer_name, v.created_at AS issued_at, v.redeemed_at,
       v.redeemed_order, v.expires_at
FROM vouchers v JOIN customers c ON c.id = v.customer_id
WHERE v.pool_id = ? ORDER BY v.created_at DESC, v.code DESC LIMIT ? OFFSET ?
"""
_AVAILABLE_CODES = """
SELECT k.code, NULL AS customer, NULL AS customer_name, NULL AS issued_at, NULL AS redeemed_at,
       NULL AS redeemed_order, p.expires_at
FROM voucher_pool_codes k JOIN voucher_pools p ON p.id = k.pool_id
WHERE k.pool_id = ? ORDER BY k.code LIMIT ? OFFSET ?
"""
_ISSUE_SELECT = f"SELECT {', '.join(IssueRecord.__struct_fields__)} FROM voucher_pool_issues"
_INSERT_VOUCHER = (
    "INSERT INTO vouchers (code, customer_id, campaign_id, pool_id, kind, amount, currency, expires_at, created_at)"
    " VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?)"
)


class BatchResult(NamedTuple):
    """What one batch of an issue did, and what to publish to the customers it reached."""

    issue: IssueRecord
    done: bool
    deliveries: list[Delivery]


class PoolStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, fields: PoolFields) -> str:
        pool_id = new_id("vp")
        try:
            await self.db.run(
                "INSERT INTO voucher_pools (id, name, kind, amount, currency, expires_at, one_per_customer, source,"
                " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pool_id,
                    fields.name,
                    fields.kind,
                    fields.amount,
                    fields.currency,
                    fields.expires_at,
                    int(fields.one_per_customer),
                    fields.source,
                    fields.created_by,
                    now_ms(),
                ),
            )
        except sqlite3.IntegrityError:
            raise NameTaken(fields.name) from None
        return pool_id

    async def all(self) -> list[PoolRecord]:
        """Every pool with its counts, the newest first."""
        rows = await self.db.fetchall(f"{_POOLS} ORDER BY p.created_at DESC, p.id", (now_ms(),))
        return records(rows, PoolRecord)

    async def get(self, pool_id: str) -> PoolRecord | None:
        row = await self.db.fetchone(f"{_POOLS} WHERE p.id = ?", (now_ms(), pool_id))
        return record(row, PoolRecord) if row else None

    async def codes(self, pool_id: str, limit: int, offset: int, issued: int) -> list[PoolCode]:
        """A page of the pool's codes: the issued ones (`issued` of them), the latest first, then
        those not issued yet."""
        found: list[PoolCode] = []
        if offset < issued:
            found = records(await self.db.fetchall(_ISSUED_CODES, (pool_id, limit, offset)), PoolCode)
        if len(found) < limit:
            rows = await self.db.fetchall(_AVAILABLE_CODES, (pool_id, limit - len(found), max(0, offset - issued)))
            found += records(rows, PoolCode)
        return found

    async def import_codes(self, pool_id: str, codes: Sequence[str]) -> Imported:
        """Add these codes (upper case, validated by the caller) to the pool, but those that exist
        anywhere already or repeat in the list: reported, not added."""
        now = now_ms()

        def work(tx: Tx) -> Imported:
            seen: set[str] = set()
            duplicates: list[str] = []
            fresh: list[str] = []
            for code in codes:
                if code in seen:
                    if code not in duplicates:
                        duplicates.append(code)
                    continue
                seen.add(code)
                fresh.append(code)
            taken: set[str] = set()
            for start in range(0, len(fresh), 500):
                chunk = fresh[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for table in ("vouchers", "voucher_pool_codes"):
                    taken |= {r[0] for r in tx.execute(f"SELECT code FROM {table} WHERE code IN ({marks})", chunk)}
            added = [c for c in fresh if c not in taken]
            tx.executemany(
                "INSERT INTO voucher_pool_codes (code, pool_id, imported_at) VALUES (?, ?, ?)",
                [(c, pool_id, now) for c in added],
            )
            duplicates += [c for c in fresh if c in taken and c not in duplicates]
            return Imported(imported=len(added), duplicates=duplicates)

        return await self.db.write(work)

    async def start_issue(self, pool_id: str, segment_id: str) -> IssueRecord:
        issue_id = new_id("vi")
        await self.db.run(
            "INSERT INTO voucher_pool_issues (id, pool_id, segment_id, status, started_at)"
            " VALUES (?, ?, ?, 'running', ?)",
            (issue_id, pool_id, segment_id, now_ms()),
        )
        found = await self.issue(issue_id)
        assert found is not None  # noqa: S101 - written just above
        return found

    async def issue(self, issue_id: str) -> IssueRecord | None:
        row = await self.db.fetchone(f"{_ISSUE_SELECT} WHERE id = ?", (issue_id,))
        return record(row, IssueRecord) if row else None

    async def issues(self, pool_id: str, limit: int) -> list[IssueRecord]:
        """A pool's issues, the latest first."""
        rows = await self.db.fetchall(
            f"{_ISSUE_SELECT} WHERE pool_id = ? ORDER BY started_at DESC, id LIMIT ?", (pool_id, limit)
        )
        return records(rows, IssueRecord)

    async def running_issues(self) -> list[IssueRecord]:
        rows = await self.db.fetchall(f"{_ISSUE_SELECT} WHERE status = 'running' ORDER BY started_at")
        return records(rows, IssueRecord)

    async def fail_issue(self, issue_id: str) -> None:
        await self.db.run(
            "UPDATE voucher_pool_issues SET status = 'failed', finished_at = ? WHERE id = ? AND status = 'running'",
            (now_ms(), issue_id),
        )

    async def issue_batch(
        self,
        issue_id: str,
        selection: Selection,
        limit: int,
        draft: Callable[[VoucherInfo], Draft],
        new_code: Callable[[], str],
    ) -> BatchResult:
        """Issue the pool to the next `limit` members of `selection` (after the issue's last
        customer): to each consenting member who does not hold the pool's code yet, one code
        (imported ones first for an imported pool; drawn by `new_code` for a generated one) in
        the notification `draft` makes for it. The last batch (fewer members than `limit`, or
        none once the pool expired) marks the issue done."""
        sql, params = where(selection)
        now = now_ms()

        def work(tx: Tx) -> BatchResult:
            issue = record(tx.execute(f"{_ISSUE_SELECT} WHERE id = ?", (issue_id,)).fetchone(), IssueRecord)
            pool = tx.execute(
                "SELECT kind, amount, currency, expires_at, one_per_customer, source FROM voucher_pools WHERE id = ?",
                (issue.pool_id,),
            ).fetchone()
            members = tx.execute(
                f"SELECT id, marketing_consent FROM customers WHERE external_id IS NOT NULL AND id > ? AND ({sql})"
                " ORDER BY id LIMIT ?",
                [issue.last_customer, *params, limit],
            ).fetchall()
            if pool["expires_at"] is not None and pool["expires_at"] <= now:
                members = []  # the pool expired while it was being issued: the issue ends here
            consenting = [m[0] for m in members if m[1]]
            key = f"pool:{issue.pool_id}" if pool["one_per_customer"] else f"pool:{issue.pool_id}:{issue_id}"
            held: set[str] = set()
            if consenting:
                marks = ",".join("?" * len(consenting))
                held = {
                    r[0]
                    for r in tx.execute(
                        f"SELECT customer_id FROM notifications WHERE customer_id IN ({marks}) AND dedupe_key = ?",
                        (*consenting, key),
                    )
                }
            wanting = [cid for cid in consenting if cid not in held]
            if pool["source"] == "imported":
                codes = [
                    r[0]
                    for r in tx.execute(
                        "SELECT code FROM voucher_pool_codes WHERE pool_id = ? ORDER BY code LIMIT ?",
                        (issue.pool_id, len(wanting)),
                    )
                ]
            else:
                codes = _fresh_codes(tx, len(wanting), new_code)
            given = dict(zip(wanting, codes, strict=False))
            drafts: list[tuple[str, Draft]] = []
            for cid, code in given.items():
                voucher = VoucherInfo(
                    code=code,
                    kind="percent" if pool["kind"] == "percent" else "amount",
                    amount=pool["amount"],
                    currency=pool["currency"],
                    expires_at=pool["expires_at"],
                )
                d = draft(voucher)
                d.dedupe_key = key
                drafts.append((cid, d))
            appended = InboxStore.append_many(tx, drafts)
            issued = [(cid, given[cid]) for cid in dict.fromkeys(appended.customer_ids)]
            tx.executemany(
                _INSERT_VOUCHER,
                [
                    (code, cid, issue.pool_id, pool["kind"], pool["amount"], pool["currency"], pool["expires_at"], now)
                    for cid, code in issued
                ],
            )
            if pool["source"] == "imported" and issued:
                tx.executemany("DELETE FROM voucher_pool_codes WHERE code = ?", [(code,) for _, code in issued])
            done = len(members) < limit
            tx.execute(
                "UPDATE voucher_pool_issues SET members = members + ?, issued = issued + ?,"
                " already_held = already_held + ?, no_consent = no_consent + ?, no_code = no_code + ?,"
                " last_customer = ?, status = ?, finished_at = ? WHERE id = ?",
                (
                    len(members),
                    len(issued),
                    # held before, or stored a moment ago by a racing issue (the inbox skipped it)
                    len(held) + len(given) - len(issued),
                    len(members) - len(consenting),
                    len(wanting) - len(given),
                    members[-1][0] if members else issue.last_customer,
                    "done" if done else "running",
                    now if done else None,
                    issue_id,
                ),
            )
            after = record(tx.execute(f"{_ISSUE_SELECT} WHERE id = ?", (issue_id,)).fetchone(), IssueRecord)
            stored: list[StoredNotification] = InboxStore.stored_now(tx, appended) if appended.customer_ids else []
            return BatchResult(
                issue=after, done=done, deliveries=[Delivery(s.customer_id, s.notification()) for s in stored]
            )

        return await self.db.write(work)


def _fresh_codes(tx: Tx, count: int, new_code: Callable[[], str]) -> list[str]:
    """`count` drawn codes that no voucher and no imported code holds (a clash is all but
    impossible with 59 random bits, but an imported list may follow any pattern)."""
    codes: set[str] = set()
    while len(codes) < count:
        drawn = {new_code() for _ in range(count - len(codes))} - codes
        marks = ",".join("?" * len(drawn))
        taken = {
            r[0]
            for r in tx.execute(
                f"SELECT code FROM vouchers WHERE code IN ({marks})"
                f" UNION ALL SELECT code FROM voucher_pool_codes WHERE code IN ({marks})",
                (*drawn, *drawn),
            )
        }
        codes |= drawn - taken
    return sorted(codes)
