"""E-vouchers: the shop redeems them at checkout; customers see their active ones."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.api.endpoint import CALLER, Call, Query, Resource, shop
from server.errors import Problem
from server.protocol import ErrorCode, VoucherInfo
from server.push.vouchers import CustomerVouchers, VoucherOut

resource = Resource("vouchers")


class RedeemIn(msgspec.Struct, forbid_unknown_fields=True):
    order_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class MyVouchers(msgspec.Struct):
    vouchers: list[VoucherInfo]


@resource.endpoint(
    "GET",
    "/api/v1/vouchers/{code:str}",
    summary="A voucher's state",
    access=shop("vouchers", "admin", "marketer"),
    response=VoucherOut,
)
async def get_voucher(call: Call) -> VoucherOut:
    return await call.node.vouchers.get(call.path["code"])


@resource.endpoint(
    "POST",
    "/api/v1/vouchers/{code:str}/redeem",
    summary="Redeem once; repeating it for the same order is answered as before, another order is refused",
    access=shop("vouchers", "admin"),
    body=RedeemIn,
    response=VoucherOut,
)
async def redeem_voucher(call: Call) -> VoucherOut:
    body: RedeemIn = call.body
    return await call.node.vouchers.redeem(call.path["code"], body.order_id)


@resource.endpoint(
    "GET",
    "/api/v1/me/vouchers",
    summary="The calling customer's active vouchers",
    access=CALLER,
    response=MyVouchers,
)
async def my_vouchers(call: Call) -> MyVouchers:
    assert call.actor is not None  # noqa: S101
    if call.actor.type != "customer":
        raise Problem(ErrorCode.FORBIDDEN, "for customers")
    return MyVouchers(vouchers=await call.node.vouchers.active_for(call.actor.id))


@resource.endpoint(
    "GET",
    "/api/v1/customers/{external_id:str}/vouchers",
    summary="Every voucher a customer was issued, by a campaign or a voucher pool, the newest first",
    access=shop("vouchers", "admin", "marketer"),
    response=CustomerVouchers,
    query={"limit": Query(int, 100, "most recent first", low=1, high=1000)},
)
async def customer_vouchers(call: Call) -> CustomerVouchers:
    customer = await call.node.shop_customers.find(call.path["external_id"])
    return await call.node.vouchers.of_customer(customer.id, call.query["limit"])
