"""E-vouchers: one unguessable code per recipient, single use, with expiry."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from server.ids import now_ms
from server.store.db import Database, Row, Tx


class VoucherRecord(msgspec.Struct):
    code: str
    customer_id: str
    campaign_id: str | None
    kind: str
    amount: float
    currency: str | None
    expires_at: int | None
    created_at: int
    redeemed_at: int | None
    redeemed_order: str | None


def _record(row: Row) -> VoucherRecord:
    return VoucherRecord(**{f: row[f] for f in VoucherRecord.__struct_fields__})


class VoucherStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def issue_many(
        tx: Tx,
        campaign_id: str,
        codes: dict[str, str],
        *,
        kind: str,
        amount: float,
        currency: str | None,
        expires_at: int | None,
    ) -> dict[str, str]:
        """Give each customer a voucher of the campaign, in the caller's transaction; a customer
        who already has one keeps it. Returns the code each customer holds now."""
        now = now_ms()
        tx.executemany(
            "INSERT OR IGNORE INTO vouchers (code, customer_id, campaign_id, kind, amount, currency, expires_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(code, cid, campaign_id, kind, amount, currency, expires_at, now) for cid, code in codes.items()],
        )
        held: dict[str, str] = {}
        ids: Sequence[str] = list(codes)
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            held.update(
                {
                    r[0]: r[1]
                    for r in tx.execute(
                        f"SELECT customer_id, code FROM vouchers WHERE campaign_id = ? AND customer_id IN ({marks})",
                        (campaign_id, *chunk),
                    ).fetchall()
                }
            )
        return held

    async def get(self, code: str) -> VoucherRecord | None:
        row = await self.db.fetchone("SELECT * FROM vouchers WHERE code = ?", (code,))
        return _record(row) if row else None

    async def active_for(self, customer_id: str) -> list[VoucherRecord]:
        rows = await self.db.fetchall(
            "SELECT * FROM vouchers WHERE customer_id = ? AND redeemed_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC",
            (customer_id, now_ms()),
        )
        return [_record(r) for r in rows]

    async def redeem(self, code: str, order_id: str) -> tuple[VoucherRecord | None, bool]:
        """(voucher, newly redeemed). Only an unredeemed, unexpired voucher changes, atomically."""
        now = now_ms()

        def work(tx: Tx) -> tuple[Row | None, bool]:
            changed = (
                tx.execute(
                    "UPDATE vouchers SET redeemed_at = ?, redeemed_order = ? WHERE code = ? AND redeemed_at IS NULL"
                    " AND (expires_at IS NULL OR expires_at > ?)",
                    (now, order_id, code, now),
                ).rowcount
                > 0
            )
            row = tx.execute("SELECT * FROM vouchers WHERE code = ?", (code,)).fetchone()
            if changed and row is not None:
                # Tracking: the notification that carried this code counts as redeemed.
                tx.execute(
                    "INSERT OR IGNORE INTO notification_actions (customer_id, seq, action, campaign_id, at)"
                    " SELECT customer_id, seq, 'redeemed', campaign_id, ? FROM notifications"
                    " WHERE customer_id = ? AND voucher_code = ?",
                    (now, row["customer_id"], code),
                )
            return row, changed

        row, changed = await self.db.write(work)
        return (_record(row) if row else None), changed
