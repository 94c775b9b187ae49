"""The studio's speed: a segment count over 100,000 customers and a support report over 1,000,000 stored events.

    python -m bench.studio
    python -m bench.studio --customers 100000 --conversations 100000 --events-each 10 --runs 9

Builds a private SQLite file with the store's own migrations, then fills it straight with
executemany (minutes of the real write path would measure nothing more here): customers with the
shop's attributes (tiers, points, last orders, tags, custom attributes) and what Rapport sees of
them (last seen, page views, vouchers redeemed); conversations spread over 90 days, each with its
events (customer messages, a note, agent replies, assignment, close, some ratings) and the
`support_stats` row the write path keeps for it (migration 0011). Then it measures, through the
server's own services on an opened `Database` (its reader connection, as a request would):

- segment counts and previews (`SegmentService.preview`: the count and a sample of 10) for a few
  typical rule sets, and the attribute catalogue the builder reads;
- the support report (`SupportReports.report`) over the whole 90 days (every conversation, so
  every one of the events stored), and over the last 7 days.

Goals (bench/README.md): a segment count under 200 ms, the report under 500 ms; the median of
`--runs` runs is printed with the worst, and the median CPU time of this process (on a box
whose cores other work shares, wall time is mostly waiting for a core). Writes bench/results/<UTC time>-studio.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec

from bench.run import ROOT
from server.chat.support_report import SupportReports
from server.ids import now_ms
from server.push.segments import Condition, SegmentDraft, SegmentService
from server.store.audience import AudienceStore
from server.store.campaigns import SegmentStore
from server.store.db import Database
from server.store.support_report import SupportReportStore

DAY = 86_400_000
TIERS = ("bronze", "silver", "gold", "platinum")
TAGS = ("vip", "newsletter", "wholesale", "returns", "outdoor", "kids")
PERIOD_DAYS = 90
AGENTS = 20


def build(path: Path, customers: int, conversations: int, events_each: int, seed: int = 7) -> int:
    """Fill the database at `path` (already migrated); returns the number of events stored."""
    rnd = random.Random(seed)
    now = now_ms()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    agents = [(f"a_{n:03d}", f"agent{n}@shop.test", f"Agent {n}", "agent", "x", 5, 0, 0, now) for n in range(AGENTS)]
    db.executemany(
        "INSERT INTO agents (id, email, name, role, password_hash, max_concurrent, session_version, disabled,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        agents,
    )
    rows = []
    seen = []
    views = []
    vouchers = []
    for n in range(customers):
        cid = f"cu_{n:07d}"
        tier = TIERS[min(3, int(rnd.expovariate(1.2)))]
        last_order = now - int(rnd.uniform(0, 400) * DAY) if rnd.random() < 0.8 else None
        tags = json.dumps(rnd.sample(TAGS, rnd.randint(0, 3)))
        attributes = json.dumps(
            {"shoe_size": rnd.randint(36, 47), "favourite_colour": rnd.choice(("black", "blue", "green"))}
            if rnd.random() < 0.6
            else {}
        )
        rows.append((
            cid, f"shop-{n:07d}", f"Customer {n}", f"c{n}@shop.test", now - int(rnd.uniform(0, 1000) * DAY),
            rnd.randint(0, 5000), tier, f"19{rnd.randint(50, 99)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
            last_order, round(rnd.uniform(0, 3000), 2), tags, int(rnd.random() < 0.7), attributes,
        ))
        if rnd.random() < 0.5:
            seen.append((cid, now - int(rnd.uniform(0, 60) * DAY)))
        for _ in range(rnd.choice((0, 0, 1, 3, 5))):
            views.append((cid, f"https://shop.test/p/{rnd.randint(1, 500)}", None, now - int(rnd.uniform(0, 30) * DAY)))
        if rnd.random() < 0.2:
            redeemed = now - DAY if rnd.random() < 0.5 else None
            vouchers.append((f"V{n:08d}", cid, "percent", 10, now - 5 * DAY, redeemed))
    db.executemany(
        "INSERT INTO customers (id, external_id, name, email, created_at, loyalty_points, tier, birthday,"
        " last_order_at, total_spent, tags, marketing_consent, attributes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.executemany("INSERT INTO customer_seen (customer_id, at) VALUES (?, ?)", seen)
    db.executemany("INSERT INTO page_views (customer_id, url, title, at) VALUES (?, ?, ?, ?)", views)
    db.executemany(
        "INSERT INTO vouchers (code, customer_id, kind, amount, created_at, redeemed_at) VALUES (?,?,?,?,?,?)",
        vouchers,
    )
    db.commit()

    stored = 0
    batch_conversations: list[tuple[Any, ...]] = []
    batch_events: list[tuple[Any, ...]] = []
    batch_stats: list[tuple[Any, ...]] = []

    def flush() -> None:
        db.executemany(
            "INSERT INTO conversations (id, customer_id, status, agent_id, last_seq, created_at, updated_at, rating)"
            " VALUES (?,?,?,?,?,?,?,?)",
            batch_conversations,
        )
        db.executemany(
            "INSERT INTO events (conversation_id, seq, kind, author_type, author_id, text, status, agent_id, score,"
            " private, at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            batch_events,
        )
        db.executemany(
            "INSERT INTO support_stats (conversation_id, opened_at, first_customer_at, first_response_at,"
            " responder_id, agent_id, closed_at, rating) VALUES (?,?,?,?,?,?,?,?)",
            batch_stats,
        )
        batch_conversations.clear()
        batch_events.clear()
        batch_stats.clear()

    for n in range(conversations):
        conv = f"c_{n:08d}"
        customer = f"cu_{rnd.randrange(customers):07d}"
        agent = agents[rnd.randrange(AGENTS)][0]
        opened = now - int(rnd.uniform(0, PERIOD_DAYS - 1) * DAY)
        at = opened
        events: list[tuple[Any, ...]] = []

        def add(at: int, kind: str, author_type: str, author: str | None, *, status: str | None = None,
                score: int | None = None, private: int = 0, events: list[tuple[Any, ...]] = events,
                conv: str = conv, agent: str = agent) -> None:
            text = "some words" if kind in ("message", "note") else None
            holder = agent if kind in ("assigned", "status") else None
            events.append((conv, len(events) + 1, kind, author_type, author, text, status, holder, score, private, at))

        add(at, "message", "customer", customer)
        first_customer = at
        at += int(rnd.uniform(5, 600) * 1000)
        add(at, "assigned", "agent", agent)
        at += 1000
        add(at, "note", "agent", agent, private=1)
        at += int(rnd.expovariate(1 / 90) * 1000)
        first_response = at
        add(at, "message", "agent", agent)
        while len(events) < events_each - 2:
            at += int(rnd.uniform(10, 300) * 1000)
            add(at, "message", "customer" if len(events) % 2 else "agent", customer if len(events) % 2 else agent)
        closed = None
        rating = None
        if rnd.random() < 0.85:
            at += int(rnd.uniform(60, 7200) * 1000)
            closed = at
            add(at, "status", "agent", agent, status="closed")
            if rnd.random() < 0.4:
                rating = rnd.choice((1, 2, 3, 4, 4, 5, 5, 5))
                add(at, "rating", "customer", customer, score=rating)
        while len(events) < events_each:
            at += 1000
            add(at, "read", "agent", agent)
        batch_conversations.append((conv, customer, "closed" if closed else "assigned", agent, len(events), opened,
                                    at, rating))
        batch_events.extend(events)
        batch_stats.append((conv, opened, first_customer, first_response, agent, agent, closed, rating))
        stored += len(events)
        if len(batch_events) >= 200_000:
            flush()
    flush()
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()
    return stored


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    await call()  # the first run warms SQLite's page cache, as a running server's would be
    times = []
    cpu = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        await call()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    # CPU time (all threads of this process: SQLite runs on aiosqlite's) says what a quiet machine
    # would take when other processes share the cores; wall time is what a caller waits.
    return {
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "median_cpu_ms": round(statistics.median(cpu), 1),
    }


RULES: dict[str, dict[str, Any]] = {
    "gold, no order for 90 days": {"all": [{"field": "tier", "op": "eq", "value": "gold"},
                                           {"field": "last_order_at", "op": "days_since_gt", "value": 90}]},
    "vip tag or 1,000+ points": {"any": [{"field": "tags", "op": "has_tag", "value": "vip"},
                                         {"field": "loyalty_points", "op": "gte", "value": 1000}]},
    "seen this week, redeemed a voucher": {"all": [{"field": "last_seen_at", "op": "days_since_lt", "value": 7},
                                                   {"field": "vouchers_redeemed", "op": "gte", "value": 1}]},
    "viewed /p/42, shoe size 42+": {"all": [{"field": "viewed_page", "op": "contains", "value": "/p/42"},
                                            {"field": "attributes.shoe_size", "op": "gte", "value": 42}]},
}


async def measure(path: Path, runs: int) -> dict[str, Any]:
    db = Database(str(path))
    await db.open()
    try:
        audience = AudienceStore(db)
        segments = SegmentService(SegmentStore(db), audience)
        reports = SupportReports(SupportReportStore(db))
        found: dict[str, Any] = {"segments": {}, "report": {}}
        for name, rules in RULES.items():
            condition = msgspec.convert(rules, Condition)
            count = await audience.count(condition)
            found["segments"][name] = {
                "members": count,
                "count": await timed(runs, lambda c=condition: audience.count(c)),
                "preview (count + 10)": await timed(
                    runs, lambda c=condition: segments.preview(SegmentDraft(rules=c), 10, 0)
                ),
            }
        catalogue = await segments.attributes()
        found["attribute catalogue"] = {
            "custom keys": [f.field for f in catalogue.fields if f.group == "custom"],
            **await timed(runs, segments.attributes),
        }
        today = dt.datetime.now(dt.UTC).date()
        for label, days in ((f"{PERIOD_DAYS} days", PERIOD_DAYS), ("7 days", 7)):
            start = (today - dt.timedelta(days=days - 1)).isoformat()
            report = await reports.report(start, today.isoformat(), 0)
            found["report"][label] = {
                "conversations": report.team.conversations,
                "first response median s": report.team.first_response_median,
                "agents": len(report.agents),
                **await timed(runs, lambda s=start: reports.report(s, today.isoformat(), 0)),
            }
        return found
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--events-each", type=int, default=10)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--keep", type=Path, help="build into this file and keep it (an existing one is reused)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rapport-studio-") as folder:
        path = args.keep or Path(folder) / "studio.db"
        built = 0.0
        if args.keep and path.exists():
            events = sqlite3.connect(path).execute("SELECT COUNT(*) FROM events").fetchone()[0]
            print(f"reusing {path}: {events:,} events")
        else:

            async def migrate() -> None:
                db = Database(str(path))
                await db.open()
                await db.close()

            asyncio.run(migrate())
            started = time.perf_counter()
            events = build(path, args.customers, args.conversations, args.events_each)
            built = time.perf_counter() - started
            print(f"built {args.customers:,} customers, {args.conversations:,} conversations, {events:,} events "
                  f"in {built:.1f} s ({path.stat().st_size / 1e6:.0f} MB)")
        found = asyncio.run(measure(path, args.runs))
    result = {"customers": args.customers, "conversations": args.conversations, "events": events,
              "runs": args.runs, "build_s": round(built, 1), **found}
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-studio.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
