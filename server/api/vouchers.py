"""E-vouchers: the shop redeems them at checkout; customers see their active ones."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.api.endpoint import Call, endpoint
from server.errors import Problem
from server.protocol import ErrorCode, VoucherInfo
from server.push.vouchers import VoucherOut


class RedeemIn(msgspec.Struct, forbid_unknown_fields=True):
    order_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class MyVouchers(msgspec.Struct):
    vouchers: list[VoucherInfo]


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
    return await call.node.vouchers.get(call.path["code"])


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
    return await call.node.vouchers.redeem(call.path["code"], body.order_id)


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
    return MyVouchers(vouchers=await call.node.vouchers.active_for(call.actor.id))
