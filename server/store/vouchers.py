"""E-vouchers as stored: one unguessable code per recipient, single use, with expiry.

Guarantees:
- A voucher is written only with the notification that carries it, in the same write
  transaction (`InboxStore.append`, given a `VoucherBatch`): a customer past the daily cap or
  already reached gets neither, so no voucher exists that nobody was told of.
- A customer holds at most one voucher per campaign (a UNIQUE index): issuing again keeps the
  first one.
- `redeem` is one conditional UPDATE: of any number of redemptions racing for one code, on any
  number of processes, exactly one changes it, and only while it is unredeemed and unexpired.
  The notification that carried the code is marked `redeemed` in the same transaction.
- Codes are compared as stored (upper case); callers normalise what a person typed.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from server.ids import now_ms
from server.store.db import Database, Tx, record, records


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
    pool_id: str | None  # issued from a voucher pool (store/voucher_pools.py) rather than a campaign


class VoucherBatch(msgspec.Struct, kw_only=True):
    """A campaign's vouchers for a batch of customers, decided by the push engine: one code per
    customer (`codes`, by internal customer id), all of one kind, amount and expiry."""

    campaign_id: str
    codes: dict[str, str]
    kind: str
    amount: float
    currency: str | None
    expires_at: int | None


_SELECT = f"SELECT {', '.join(VoucherRecord.__struct_fields__)} FROM vouchers"


def issue(tx: Tx, batch: VoucherBatch, customer_ids: Iterable[str]) -> None:
    """Give these customers their code of `batch`, in the caller's write transaction (the inbox's,
    so that the voucher and its notification are stored together); a holder keeps theirs."""
    now = now_ms()
    tx.executemany(
        "INSERT OR IGNORE INTO vouchers (code, customer_id, campaign_id, kind, amount, currency, expires_at,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (batch.codes[cid], cid, batch.campaign_id, batch.kind, batch.amount, batch.currency, batch.expires_at, now)
            for cid in customer_ids
        ],
    )


class VoucherStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, code: str) -> VoucherRecord | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE code = ?", (code,))
        return record(row, VoucherRecord) if row else None

    async def active_for(self, customer_id: str) -> list[VoucherRecord]:
        """A customer's unredeemed, unexpired vouchers, the newest first."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE customer_id = ? AND redeemed_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC",
            (customer_id, now_ms()),
        )
        return records(rows, VoucherRecord)

    async def of_customer(self, customer_id: str, limit: int) -> list[VoucherRecord]:
        """Every voucher a customer was issued (redeemed and expired ones too), the newest first."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE customer_id = ? ORDER BY created_at DESC, code LIMIT ?", (customer_id, limit)
        )
        return records(rows, VoucherRecord)

    async def redeem(self, code: str, order_id: str) -> tuple[VoucherRecord | None, bool]:
        """(the voucher as it is after this call, whether this call redeemed it); None: no such code."""
        now = now_ms()

        def work(tx: Tx) -> tuple[VoucherRecord | None, bool]:
            changed = (
                tx.execute(
                    "UPDATE vouchers SET redeemed_at = ?, redeemed_order = ? WHERE code = ? AND redeemed_at IS NULL"
                    " AND (expires_at IS NULL OR expires_at > ?)",
                    (now, order_id, code, now),
                ).rowcount
                > 0
            )
            row = tx.execute(f"{_SELECT} WHERE code = ?", (code,)).fetchone()
            voucher = record(row, VoucherRecord) if row else None
            if changed and voucher is not None:
                # Tracking: the notification that carried this code counts as redeemed.
                tx.execute(
                    "INSERT OR IGNORE INTO notification_actions (customer_id, seq, action, campaign_id, at)"
                    " SELECT customer_id, seq, 'redeemed', campaign_id, ? FROM notifications"
                    " WHERE customer_id = ? AND voucher_code = ?",
                    (now, voucher.customer_id, code),
                )
            return voucher, changed

        return await self.db.write(work)
