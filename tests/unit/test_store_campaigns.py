"""store/campaigns.py's guarantees: status moves are conditional (one racer wins), due campaigns
start once across processes, segment names are unique, records are typed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.ids import now_ms
from server.store.audience import Condition
from server.store.campaigns import CampaignCounts, CampaignFields, CampaignStore, NameTaken, SegmentStore
from server.store.db import Database
from server.store.inbox import Draft, InboxStore
from tests.unit.push_world import add_customer, open_database


def fields(name: str = "c", expires_at: int | None = None) -> CampaignFields:
    return CampaignFields(name=name, kind="offer", audience='{"type":"all"}', title_template="t",
                          body_template="b", url=None, voucher=None, trigger=None, expires_at=expires_at)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path)
    yield database
    await database.close()


async def test_a_campaign_moves_draft_scheduled_active_stopped_and_no_other_way(db: Database) -> None:
    store = CampaignStore(db)
    cid = await store.create(fields(), created_by="agent:1")
    made = await store.get(cid)
    assert made is not None and (made.status, made.created_by, made.voucher) == ("draft", "agent:1", None)
    assert not await store.stop(cid)  # a draft is not stopped, it is left
    assert await store.schedule(cid, now_ms() + 60_000)
    assert await store.update(cid, fields("renamed"))  # scheduled: still editable
    assert await store.start(cid, 1234)
    started = await store.get(cid)
    assert started is not None and (started.status, started.name, started.started_at) == ("active", "renamed", 1234)
    assert not await store.update(cid, fields("too late"))
    assert not await store.start(cid, 1)
    assert await store.stop(cid)
    assert not await store.stop(cid)
    assert not await store.schedule(cid, 1)
    assert (await store.get(cid)).status == "stopped"  # type: ignore[union-attr]
    assert not await store.start("cp_nobody", 1)


async def test_of_many_racing_starts_exactly_one_wins(tmp_path: Path, db: Database) -> None:
    other = await open_database(tmp_path)  # a second process on the same file
    try:
        store, theirs = CampaignStore(db), CampaignStore(other)
        cid = await store.create(fields(), created_by="x")
        wins = await asyncio.gather(*(s.start(cid, now_ms()) for s in [store, theirs] * 10))
        assert wins.count(True) == 1
    finally:
        await other.close()


async def test_a_due_campaign_starts_once_whichever_process_claims_it(tmp_path: Path, db: Database) -> None:
    other = await open_database(tmp_path)
    try:
        store, theirs = CampaignStore(db), CampaignStore(other)
        due = await store.create(fields("due"), created_by="x")
        later = await store.create(fields("later"), created_by="x")
        assert await store.schedule(due, now_ms() - 1) and await store.schedule(later, now_ms() + 3_600_000)
        claims = await asyncio.gather(store.start_due(), theirs.start_due(), store.start_due())
        assert sorted(c for claim in claims for c in claim) == [due]
        assert [c.id for c in await store.active()] == [due]
    finally:
        await other.close()


async def test_active_leaves_out_the_expired_and_recent_is_newest_first(db: Database) -> None:
    store = CampaignStore(db)
    old = await store.create(fields("old", expires_at=now_ms() - 1), created_by="x")
    await asyncio.sleep(0.002)
    new = await store.create(fields("new"), created_by="x")
    for cid in (old, new):
        assert await store.start(cid, now_ms())
    assert [c.id for c in await store.active()] == [new]
    assert [c.id for c in await store.recent(10, 0)] == [new, old]
    assert [c.id for c in await store.recent(10, 1)] == [old]


async def test_counts_are_recipients_and_each_action_once(db: Database) -> None:
    store, inbox = CampaignStore(db), InboxStore(db)
    cid = await store.create(fields(), created_by="x")
    ann = await add_customer(db, "ann")
    bob = await add_customer(db, "bob")
    draft = Draft(kind="offer", marketing=True, title="t", body="b", campaign_id=cid, dedupe_key=f"campaign:{cid}")
    await inbox.append([(ann, draft), (bob, draft)])
    for action in ("opened", "opened", "clicked"):
        await inbox.record_action(ann, 1, action, cid)
    assert await store.counts(cid) == CampaignCounts(recipients=2, opened=1, clicked=1)
    assert await store.counts("cp_none") == CampaignCounts(recipients=0)


async def test_a_segment_name_is_unique_and_a_refused_write_changes_nothing(db: Database) -> None:
    store = SegmentStore(db)
    gold = Condition(field="tier", op="eq", value="gold")
    first = await store.create("gold", gold)
    second = await store.create("silver", Condition(field="tier", op="eq", value="silver"))
    with pytest.raises(NameTaken):
        await store.create("gold", gold)
    with pytest.raises(NameTaken):
        await store.update(second, "gold", gold)
    assert [(s.name, s.rules) for s in await store.all()] == [
        ("gold", gold), ("silver", Condition(field="tier", op="eq", value="silver"))]
    found = await store.get(first)
    assert found is not None and isinstance(found.rules, Condition)
    assert not await store.update("sg_nobody", "x", gold)
    assert await store.delete(first) and not await store.delete(first)
    assert await store.get(first) is None
