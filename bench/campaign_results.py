"""What the studio's campaign screens cost the store: the live results, the list, the day's greetings.

    python -m bench.campaign_results                          # 100,000 customers, 20,000 reached
    python -m bench.campaign_results --customers 200000 --reached 50000

The real services on a SQLite file (tests/unit/push_world.py wires them as server/node.py does):
customers imported through the store's upsert, a campaign to a segment (tier = gold, about half),
its notifications stored through the inbox (dedupe keys, seqs), actions recorded for a share of
them, some customers held back by a cap. Then timed, each the median of several calls: the
results one poll of the screen reads (`CampaignService.stats`: audience, consent, holds, actions,
timeline), the list's counts of 50 campaigns, the greetings job's candidates for a day
(`AudienceStore.on_days` on the birthday index) and the CSV export's rows.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from server.push.segments import SegmentIn
from server.store.audience import Condition, Everyone
from server.store.inbox import Draft
from tests.unit.push_world import Shop


async def timed(label: str, call: Callable[[], Awaitable[Any]], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    median = statistics.median(times)
    print(f"{label:<58} {median:8.1f} ms  (min {min(times):.1f}, max {max(times):.1f})")
    return median


async def main(customers: int, reached: int) -> None:
    rng = random.Random(11)
    shop = await Shop.open(Path(tempfile.mkdtemp(prefix="rapport-bench-")))
    try:
        began = time.perf_counter()
        rows = [
            (
                f"c{i:07d}",
                {
                    "name": f"Customer {i}",
                    "tier": rng.choice(("gold", "silver")),
                    "marketing_consent": int(rng.random() < 0.8),
                    "birthday": f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                },
            )
            for i in range(customers)
        ]
        for start in range(0, len(rows), 10_000):
            await shop.customer_store.upsert_many(rows[start : start + 10_000])
        segment = await shop.segments.create(
            SegmentIn(name="gold", rules=Condition(field="tier", op="eq", value="gold"))
        )
        campaign = await shop.campaign(
            kind="news", title="t", body="b", audience={"type": "segment", "segment_id": segment.id}
        )
        ids = [
            str(r[0])
            for r in await shop.db.fetchall("SELECT id FROM customers WHERE tier = 'gold' LIMIT ?", (reached,))
        ]
        key = f"campaign:{campaign.id}"
        for start in range(0, len(ids), 5000):
            drafts = [
                (cid, Draft(kind="news", marketing=True, title="t", body="b", campaign_id=campaign.id, dedupe_key=key))
                for cid in ids[start : start + 5000]
            ]
            await shop.inbox.deliver(drafts)
        for cid in ids[: len(ids) // 2]:
            await shop.inbox.track(cid, 1, "delivered")
        for cid in ids[: len(ids) // 10]:
            await shop.inbox.track(cid, 1, "opened")
        capped = [
            str(r[0])
            for r in await shop.db.fetchall(
                "SELECT id FROM customers WHERE tier = 'gold' LIMIT 1000 OFFSET ?", (reached,)
            )
        ]
        await shop.campaign_store.hold(campaign.id, capped, "frequency_cap")
        for n in range(49):
            await shop.campaign(name=f"other {n}", kind="news", title="t", body="b", send=False)
        took = time.perf_counter() - began
        print(f"{customers:,} customers, {len(ids):,} reached, {len(capped):,} held back: set up in {took:.0f} s")

        stats = await shop.campaigns.stats(campaign.id)
        assert stats.recipients == len(ids) and stats.frequency_cap == len(capped), stats
        await timed(
            "results of one poll (stats: audience, holds, actions, timeline)", lambda: shop.campaigns.stats(campaign.id)
        )
        await timed("the list's 50 campaigns with their counts", lambda: shop.campaigns.recent(50, 0))
        await timed(
            "the day's birthday candidates (3 days, everyone)",
            lambda: shop.audience.on_days(Everyone(), "birthday", ["03-13", "03-14", "03-15"], 5000),
        )
        await timed("CSV rows of the campaign", lambda: shop.campaigns.recipients(campaign.id, 1_000_000), runs=3)
    finally:
        await shop.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--reached", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(main(args.customers, args.reached))
