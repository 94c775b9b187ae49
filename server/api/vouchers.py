"""E-vouchers: the shop redeems them at checkout; customers see their active ones."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.api.endpoint import Call, endpoint
from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode, VoucherInfo
from server.store.vouchers import VoucherRecord


class RedeemIn(msgspec.Struct, forbid_unknown_fields=True):
    order_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class VoucherOut(msgspec.Struct):
    code: str
    kind: str
    amount: float
    currency: str | None
    expires_at: int | None
    redeemed_at: int | None
    redeemed_order: str | None
    campaign_id: str | None


class MyVouchers(msgspec.Struct):
    vouchers: list[VoucherInfo]


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
    )


@endpoint(
    "GET",
    "/api/v1/vouchers/{code:str}",
    summary="A voucher's state",
    tag="vouchers",
    access="shop",
    scope="vouchers",
    roles=("admin", "marketer"),
    response=VoucherOut,
)
async def get_voucher(call: Call) -> VoucherOut:
    voucher = await call.node.vouchers.get(call.path["code"].upper())
    if voucher is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such voucher")
    return _out(voucher)


@endpoint(
    "POST",
    "/api/v1/vouchers/{code:str}/redeem",
    summary="Redeem once; repeating it for the same order is answered as before, another order is refused",
    tag="vouchers",
    access="shop",
    scope="vouchers",
    roles=("admin",),
    body=RedeemIn,
    response=VoucherOut,
)
async def redeem_voucher(call: Call) -> VoucherOut:
    body: RedeemIn = call.body
    voucher, changed = await call.node.vouchers.redeem(call.path["code"].upper(), body.order_id)
    if voucher is None:
        raise Problem(ErrorCode.NOT_FOUND, "no such voucher")
    if changed or voucher.redeemed_order == body.order_id:
        return _out(voucher)
    if voucher.redeemed_at is not None:
        raise Problem(ErrorCode.CONFLICT, f"already redeemed for order {voucher.redeemed_order}")
    if voucher.expires_at is not None and voucher.expires_at <= now_ms():
        raise Problem(ErrorCode.CONFLICT, "this voucher has expired")
    raise Problem(ErrorCode.CONFLICT, "this voucher cannot be redeemed")


@endpoint(
    "GET",
    "/api/v1/me/vouchers",
    summary="The calling customer's active vouchers",
    tag="vouchers",
    access="caller",
    response=MyVouchers,
)
async def my_vouchers(call: Call) -> MyVouchers:
    assert call.actor is not None  # noqa: S101
    if call.actor.type != "customer":
        raise Problem(ErrorCode.FORBIDDEN, "for customers")
    vouchers = await call.node.vouchers.active_for(call.actor.id)
    return MyVouchers(
        vouchers=[
            VoucherInfo(
                code=v.code,
                kind="percent" if v.kind == "percent" else "amount",
                amount=v.amount,
                currency=v.currency,
                expires_at=v.expires_at,
            )
            for v in vouchers
        ]
    )
