"""E-vouchers: what a campaign's vouchers are, their codes, and redeeming them at the shop's checkout."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any, Literal

import msgspec

from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode, VoucherInfo
from server.store.vouchers import VoucherRecord, VoucherStore

_DAY_MS = 86_400_000
# Voucher codes: no 0/O, 1/I/L; 12 characters of 31 = 59 bits, from the OS's CSPRNG.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class VoucherSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    kind: Literal["amount", "percent"]
    amount: Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    valid_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


class VoucherOut(msgspec.Struct):
    code: str
    kind: str
    amount: float
    currency: str | None
    expires_at: int | None
    redeemed_at: int | None
    redeemed_order: str | None
    campaign_id: str | None
    pool_id: str | None


class CustomerVouchers(msgspec.Struct):
    vouchers: list[VoucherOut]


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def expiry(spec: VoucherSpec, campaign_expires_at: int | None) -> int | None:
    """When vouchers issued now expire: after their `valid_days`, else with their campaign."""
    if spec.valid_days is not None:
        return now_ms() + spec.valid_days * _DAY_MS
    return campaign_expires_at


def info(spec: VoucherSpec, code: str, expires: int | None) -> VoucherInfo:
    """The voucher as its notification carries it."""
    return VoucherInfo(code=code, kind=spec.kind, amount=spec.amount, currency=spec.currency, expires_at=expires)


def context(spec: VoucherSpec, code: str, expires: int | None) -> dict[str, Any]:
    """The `voucher` a template sees."""
    return {
        "code": code,
        "kind": spec.kind,
        # 15, not 15.0: a template writes "{{ voucher.amount }}%" and the shopper reads it.
        "amount": int(spec.amount) if spec.amount.is_integer() else spec.amount,
        "currency": spec.currency,
        "expires_on": dt.datetime.fromtimestamp(expires / 1000, dt.UTC).date().isoformat() if expires else "",
    }


def _out(v: VoucherRecord) -> VoucherOut:
    return VoucherOut(
        code=v.code,
        kind=v.kind,
        amount=v.amount,
        currency=v.currency,
        expires_at=v.expires_at,
        redeemed_at=v.redeemed_at,
        redeemed_order=v.redeemed_order,
        campaign_id=v.campaign_id,
        pool_id=v.pool_id,
    )


class VoucherService:
    """The shop looks vouchers up and redeems them; customers see their active ones."""

    def __init__(self, store: VoucherStore) -> None:
        self._store = store

    async def get(self, code: str) -> VoucherOut:
        voucher = await self._store.get(code.upper())
        if voucher is None:
            raise Problem(ErrorCode.NOT_FOUND, "no such voucher")
        return _out(voucher)

    async def redeem(self, code: str, order_id: str) -> VoucherOut:
        """Redeem once. Repeating it for the same order answers as the first time did; another
        order, a redeemed or an expired voucher is a conflict."""
        voucher, changed = await self._store.redeem(code.upper(), order_id)
        if voucher is None:
            raise Problem(ErrorCode.NOT_FOUND, "no such voucher")
        if changed or voucher.redeemed_order == order_id:
            return _out(voucher)
        if voucher.redeemed_at is not None:
            raise Problem(ErrorCode.CONFLICT, f"already redeemed for order {voucher.redeemed_order}")
        if voucher.expires_at is not None and voucher.expires_at <= now_ms():
            raise Problem(ErrorCode.CONFLICT, "this voucher has expired")
        raise Problem(ErrorCode.CONFLICT, "this voucher cannot be redeemed")

    async def of_customer(self, customer_id: str, limit: int) -> CustomerVouchers:
        """Every voucher a customer was issued, by a campaign or a pool (redeemed and expired
        ones too; internal customer id), the newest first."""
        return CustomerVouchers(vouchers=[_out(v) for v in await self._store.of_customer(customer_id, limit)])

    async def active_for(self, customer_id: str) -> list[VoucherInfo]:
        """A customer's unredeemed, unexpired vouchers (internal customer id), the newest first."""
        return [
            VoucherInfo(
                code=v.code,
                kind="percent" if v.kind == "percent" else "amount",
                amount=v.amount,
                currency=v.currency,
                expires_at=v.expires_at,
            )
            for v in await self._store.active_for(customer_id)
        ]
