"""VoucherService: look a voucher up, redeem it with its conflict rules, a customer's active ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode
from server.push.vouchers import VoucherOut
from tests.unit.push_world import Shop, add_customer, give


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    opened = await Shop.open(tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


async def test_redeem_once_same_order_again_is_the_same_answer_another_order_a_conflict(shop: Shop) -> None:
    ann = await add_customer(shop.db, "ann")
    await give(shop.db, ann, "ABCD-EFGH-JKLM")
    service = shop.vouchers
    first = await service.redeem("abcd-efgh-jklm", "O-1")  # what a person typed: case does not matter
    assert isinstance(first, VoucherOut) and first.redeemed_order == "O-1" and first.redeemed_at is not None
    assert await service.redeem("ABCD-EFGH-JKLM", "O-1") == first
    with pytest.raises(Problem) as caught:
        await service.redeem("ABCD-EFGH-JKLM", "O-2")
    assert caught.value.code == ErrorCode.CONFLICT and "already redeemed for order O-1" in caught.value.message
    assert await service.get("abcd-efgh-jklm") == first


async def test_twenty_at_once_one_wins_the_rest_conflict(shop: Shop) -> None:
    ann = await add_customer(shop.db, "ann")
    await give(shop.db, ann, "RACE-RACE-RACE")
    results = await asyncio.gather(*(shop.vouchers.redeem("RACE-RACE-RACE", f"O-{n}") for n in range(20)),
                                   return_exceptions=True)
    won = [r for r in results if isinstance(r, VoucherOut)]
    assert len(won) == 1
    assert all(isinstance(r, Problem) and r.code == ErrorCode.CONFLICT for r in results if r not in won)


async def test_expired_and_unknown_vouchers(shop: Shop) -> None:
    ann = await add_customer(shop.db, "ann")
    await give(shop.db, ann, "OLD0-OLD0-OLD0", expires_at=now_ms() - 1)
    for call, code, text in (
        (shop.vouchers.redeem("OLD0-OLD0-OLD0", "O-1"), ErrorCode.CONFLICT, "expired"),
        (shop.vouchers.redeem("NOPE-NOPE-NOPE", "O-1"), ErrorCode.NOT_FOUND, "no such voucher"),
        (shop.vouchers.get("NOPE-NOPE-NOPE"), ErrorCode.NOT_FOUND, "no such voucher"),
    ):
        with pytest.raises(Problem) as caught:
            await call
        assert caught.value.code == code and text in caught.value.message


async def test_a_customer_sees_only_their_active_vouchers(shop: Shop) -> None:
    ann, bob = await add_customer(shop.db, "ann"), await add_customer(shop.db, "bob")
    await give(shop.db, ann, "ANN1-ANN1-ANN1")
    await give(shop.db, ann, "ANN2-ANN2-ANN2", campaign="cp_2")
    await give(shop.db, bob, "BOB1-BOB1-BOB1")
    await shop.vouchers.redeem("ANN2-ANN2-ANN2", "O-1")
    mine = await shop.vouchers.active_for(ann)
    assert [(v.code, v.kind, v.amount, v.currency, v.redeemed) for v in mine] == [
        ("ANN1-ANN1-ANN1", "amount", 5.0, "EUR", False)]
