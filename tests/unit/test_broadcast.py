"""Who may receive a campaign, as a table of cases, and how a broadcast reaches this process's sockets.

Through the real push services on a real SQLite file (tests/unit/push_world.py): consent, tier,
the daily cap, expiry, segment rules on attributes and tags, listed customers, lapsed customers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from server import streams
from server.protocol import Notification, encode
from server.push.campaigns import CampaignHint
from server.push.segments import SegmentIn
from server.store.inbox import Draft
from tests.unit.push_world import Shop, Sockets, add_customer, days_ago

PEOPLE = ("ann", "bob", "cid", "dan")


async def populate(shop: Shop) -> dict[str, str]:
    """ann and bob consent; cid does not; dan consents but reached today's cap (1) already."""
    ids = {
        "ann": await add_customer(shop.db, "ann", name="Ann Lee", tier="gold", tags=["vip"], marketing_consent=True,
                                  attributes={"city": "Oslo", "visits": 12}, last_order_at=days_ago(120)),
        "bob": await add_customer(shop.db, "bob", name="Bob", tier="silver", marketing_consent=True,
                                  attributes={"city": "Bergen"}, last_order_at=days_ago(5)),
        "cid": await add_customer(shop.db, "cid", name="Cid", tier="gold", tags=["vip"], marketing_consent=False),
        "dan": await add_customer(shop.db, "dan", name="Dan", tier="gold", tags=["vip"], marketing_consent=True,
                                  attributes={"city": "Oslo", "visits": 30}, last_order_at=days_ago(200)),
    }
    earlier = Draft(kind="news", marketing=True, title="earlier", body="b", dedupe_key="earlier")
    assert await shop.inbox.deliver([(ids["dan"], earlier)]) == 1
    # An anonymous visitor who somehow consented: never a campaign's recipient.
    await shop.db.run("INSERT INTO customers (id, created_at, marketing_consent) VALUES ('cu_anon', 0, 1)")
    ids["anon"] = "cu_anon"
    return ids


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    opened = await Shop.open(tmp_path, frequency_cap_per_day=1)
    try:
        yield opened
    finally:
        await opened.close()


def segment(rules: dict[str, Any]) -> dict[str, Any]:
    return {"segment": rules}


CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("everyone who consents, under the cap", {"audience": {"type": "all"}}, ["ann", "bob"]),
    ("a tier", segment({"field": "tier", "op": "eq", "value": "gold"}), ["ann"]),
    ("a tag", segment({"field": "tags", "op": "has_tag", "value": "vip"}), ["ann"]),
    ("an attribute", segment({"field": "attributes.city", "op": "eq", "value": "Oslo"}), ["ann"]),
    ("a numeric attribute or a tier", segment({"any": [{"field": "attributes.visits", "op": "gt", "value": 10},
                                                       {"field": "tier", "op": "eq", "value": "silver"}]}),
     ["ann", "bob"]),
    ("all of a tier and a tag", segment({"all": [{"field": "tier", "op": "in", "value": ["gold", "silver"]},
                                                 {"field": "tags", "op": "exists"}]}), ["ann", "bob"]),
    ("lapsed", {"audience": {"type": "lapsed", "days": 90}}, ["ann"]),
    ("listed", {"audience": {"type": "customers", "customer_ids": ["bob", "cid", "dan", "ghost"]}}, ["bob"]),
    ("expired", {"audience": {"type": "all"}, "expired": True}, []),
    ("its segment deleted", segment({"field": "tier", "op": "exists"}) | {"delete_segment": True}, []),
]


@pytest.mark.parametrize(("_name", "case", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_who_may_receive_a_campaign(shop: Shop, _name: str, case: dict[str, Any], expected: list[str]) -> None:
    ids = await populate(shop)
    fields: dict[str, Any] = {"title": "Hi {{ customer.first_name }}"}
    if "segment" in case:
        made = await shop.segments.create(msgspec.convert({"name": "s", "rules": case["segment"]}, SegmentIn))
        fields["audience"] = {"type": "segment", "segment_id": made.id}
    else:
        fields["audience"] = case["audience"]
    campaign = await shop.campaign(**fields)
    if case.get("expired"):
        campaign = msgspec.structs.replace(campaign, expires_at=1)
    if case.get("delete_segment"):
        await shop.segments.delete(fields["audience"]["segment_id"])
    stored = await shop.broadcast.deliver(campaign, list(ids.values()))
    assert stored == len(expected)
    got = [who for who in PEOPLE if any(t.startswith("Hi ") for t in await shop.titles(who))]
    assert got == expected
    # Exactly once: the same delivery again stores nothing.
    assert await shop.broadcast.deliver(campaign, list(ids.values())) == 0


async def test_the_greeting_is_personal_and_the_voucher_in_the_frame_is_the_one_stored(shop: Shop) -> None:
    ids = await populate(shop)
    campaign = await shop.campaign(title="Hi {{ customer.first_name }}", body="Use {{ voucher.code }}",
                                   voucher={"kind": "percent", "amount": 10, "valid_days": 7})
    await shop.broadcast.deliver(campaign, [ids["ann"]])
    [note] = await shop.inbox_store.after(ids["ann"], 0, 10)
    assert note.title == "Hi Ann" and note.voucher is not None and note.voucher.code in note.body
    assert (await shop.vouchers.get(note.voucher.code)).campaign_id == campaign.id


async def test_a_broadcast_goes_to_this_process_sockets_only_stored_once_for_two_processes(tmp_path: Path) -> None:
    # Two processes on one database, the same customer connected to both (two tabs).
    here, there = Sockets(), Sockets()
    first = await Shop.open(tmp_path, here)
    ann = await add_customer(first.db, "ann", name="Ann", marketing_consent=True)
    bob = await add_customer(first.db, "bob", name="Bob", marketing_consent=True)
    second = await Shop.open(tmp_path, there)
    here.customers, there.customers = [ann, bob], [ann]
    heard: list[tuple[str, bytes]] = []
    await first.broker.subscribe(streams.inbox(ann))
    first.broker.set_handlers(lambda channel, data: heard.append((channel, data)))
    try:
        campaign = await first.campaign(title="Sale")
        counts = await asyncio.gather(first.broadcast.deliver_to_connected(campaign),
                                      second.broadcast.deliver_to_connected(campaign))
        assert sorted(counts) in ([0, 2], [1, 1])  # whoever stores Ann's first, she is stored once
        assert heard == []  # handed to the sockets, not published through the broker
        assert len(await first.inbox_store.after(ann, 0, 10)) == 1
        # Each process gave its sockets Ann's one stored notification (the same seq), and Bob's.
        assert sorted(ch for ch, _ in here.delivered) == sorted([streams.inbox(ann), streams.inbox(bob)])
        assert [ch for ch, _ in there.delivered] == [streams.inbox(ann)]
        mine = dict(here.delivered)[streams.inbox(ann)]
        assert mine == dict(there.delivered)[streams.inbox(ann)]
        assert mine.startswith(b"e:1.0:")
        assert msgspec.json.decode(mine.split(b":", 2)[2], type=Notification).title == "Sale"
    finally:
        await first.close()
        await second.close()


async def test_a_hint_reloads_only_the_campaign_it_names(shop: Shop) -> None:
    sale = await shop.campaign(title="Sale", trigger={"type": "event", "event": "x"})
    news = await shop.campaign(title="News", trigger={"type": "event", "event": "y"})
    await shop.broadcast.start()
    assert {c.id for c in shop.broadcast.running()} == {sale.id, news.id}
    # Both stop in the store; only `sale` is announced.
    assert await shop.campaign_store.stop(sale.id) and await shop.campaign_store.stop(news.id)
    shop.broadcast.heard(encode(CampaignHint(campaign=sale.id)).decode())
    for _ in range(100):
        await asyncio.sleep(0.01)
        if sale.id not in {c.id for c in shop.broadcast.running()}:
            break
    assert {c.id for c in shop.broadcast.running()} == {news.id}  # not re-read: no hint named it
    await shop.broadcast.catch_up()  # after a broker outage, everything is re-read
    assert shop.broadcast.running() == []
    await shop.broadcast.stop()


async def test_starting_a_campaign_announces_it_with_one_typed_hint(shop: Shop) -> None:
    heard: list[bytes] = []
    await shop.broker.subscribe(streams.CAMPAIGNS)
    shop.broker.set_handlers(lambda channel, data: heard.append(data))
    sent = await shop.campaign(title="Now")
    assert heard == [streams.frame_envelope(encode(CampaignHint(campaign=sent.id)))]
