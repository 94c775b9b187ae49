"""The agent console's speed: script time of switching conversation and of applying an incoming message in
headless Chromium, with 200 open conversations and 5,000 messages held; search over 100,000 messages.

    python -m bench.console
    python -m bench.console --open 200 --held 5000 --stored 100000 --runs 30

Starts one `rapport serve` on a private SQLite file, stores the history through the store's own write
path (so the search index and the unread counts are what production keeps), logs an admin in to the
console in Debian's Chromium (Playwright), waits until every open conversation is listed and its
history replayed, then measures with the DevTools protocol's `Performance.getMetrics` (ScriptDuration:
all JavaScript the page ran, the event handlers, Preact's rendering and the effects after it):

- switching: Alt+ArrowDown to the next conversation (the console's own shortcut, sent as a real key
  event, so no test script runs in the page), then 250 ms for everything it causes (the customer
  panel's request answered and rendered included);
- incoming: a shopper's message into the conversation on screen, and into one that is not;
- search: `GET /api/v1/search` end to end over loopback, per query, as an admin (every transcript).

Goals (docs: bench/README.md): under 16 ms of script per switch and per incoming message, under 50 ms
per search. Writes bench/results/<UTC time>-console.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
from playwright.sync_api import Page, sync_playwright
from websockets.sync.client import connect

from bench.run import PASSWORD, ROOT, SECRET, free_port, percentile
from server.ids import new_id
from server.store.conversations import ConversationStore
from server.store.db import Database, Tx

ADMIN = "admin@example.com"
VOCABULARY = (
    "order parcel delivery shoes jacket size refund exchange voucher code discount tracking invoice payment card "
    "address courier warehouse stock colour black blue small large medium waterproof zipper sleeve return label "
    "week monday tomorrow morning late broken wrong missing gift wrap birthday loyalty points tier gold member "
    "shipping express standard customs norway sweden denmark germany price sale coupon cart checkout account "
    "password login email newsletter boots socks hat gloves tent sleeping bag backpack hiking trail running"
)
WORDS = VOCABULARY.split(" ")


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + rng.choice(".?!")


def customer_token(user_id: str) -> str:
    return jwt.encode({"sub": user_id, "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")


async def seed(db_path: Path, admin_id: str, open_count: int, held: int, stored: int) -> list[tuple[str, str]]:
    """History through ConversationStore.append (index and counters as in production): `open_count`
    conversations assigned to the admin holding `held` messages (the first one long), and closed ones
    up to `stored` messages in all. Returns the open conversations as (id, customer's shop id)."""
    rng = random.Random(7)
    db = Database(str(db_path))
    await db.open()
    per_open = max(1, (held - held // 5) // max(1, open_count - 1)) if open_count > 1 else held
    first_open = held - per_open * (open_count - 1)
    start = int(time.time() * 1000) - 30 * 86_400_000
    opened: list[tuple[str, str]] = []

    def conversation(tx: Tx, n: int, messages: int, status: str) -> str:
        customer_id, shop_id = new_id("cu"), f"bench-{n}"
        tx.execute("INSERT INTO customers (id, external_id, name, email, loyalty_points, tier, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (customer_id, shop_id, f"Customer {n}", f"c{n}@example.com", rng.randint(0, 5000),
                    rng.choice(["gold", "silver", None]), start))
        conversation_id = ConversationStore.create(tx, customer_id)
        for m in range(messages):
            from_customer = m % 2 == 0
            text = sentence(rng, rng.randint(4, 18))
            ConversationStore.append(
                tx, conversation_id, kind="message", text=text,
                author_type="customer" if from_customer else "agent",
                author_id=customer_id if from_customer else admin_id,
                author_name=f"Customer {n}" if from_customer else "Admin")
            ConversationStore.set_preview(tx, conversation_id, text)
        ConversationStore.set_state(tx, conversation_id, status=status, agent_id=admin_id, waiting=False)
        if status == "assigned":
            opened.append((conversation_id, shop_id))
        return conversation_id

    total = 0
    for n in range(open_count):
        count = first_open if n == 0 else per_open
        await db.write(lambda tx, n=n, count=count: conversation(tx, n, count, "assigned"))
        total += count
    n = open_count
    per_closed = 25
    while total < stored:
        batch = []
        for _ in range(40):
            if total >= stored:
                break
            count = min(per_closed, stored - total)
            batch.append((n, count))
            n += 1
            total += count

        def closed(tx: Tx, batch: list[tuple[int, int]] = batch) -> None:
            for number, count in batch:
                conversation(tx, number, count, "closed")

        await db.write(closed)
    row = await db.fetchone("SELECT COUNT(*) AS n FROM events WHERE kind = 'message'")
    assert row is not None and row["n"] == stored, row["n"] if row else None
    await db.close()
    return opened


class Metrics:
    """The page's JavaScript time, read through the DevTools protocol (nothing runs in the page)."""

    def __init__(self, page: Page) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable", {"timeDomain": "threadTicks"})

    def script_ms(self) -> float:
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        return float(metrics["ScriptDuration"]) * 1000


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "p95": round(percentile(values, 95), 2),
        "max": round(max(values), 2),
        "runs": len(values),
    }


def measure_console(base: str, opened: list[tuple[str, str]], runs: int, held: int) -> dict[str, Any]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    results: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/console")
        page.get_by_test_id("login-email").fill(ADMIN)
        page.get_by_test_id("login-password").fill(PASSWORD)
        began = time.monotonic()
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("conversation-row").nth(len(opened) - 1).wait_for(timeout=120_000)
        listed = time.monotonic() - began
        metrics = Metrics(page)
        # The welcome's replay brings every open conversation's history over the socket: wait until
        # the page's script goes quiet.
        quiet, last = 0, metrics.script_ms()
        while quiet < 3:
            time.sleep(0.5)
            now = metrics.script_ms()
            quiet = quiet + 1 if now - last < 5 else 0
            last = now
        quiet_after = time.monotonic() - began
        results["load"] = {"rows_listed_s": round(listed, 2), "replayed_and_quiet_s": round(quiet_after, 2)}

        # Switching conversation: the console's shortcut, as a real key event.
        page.keyboard.press("Escape")
        page.mouse.click(640, 400)  # focus the page, outside any field
        switches = []
        for _ in range(runs):
            before = metrics.script_ms()
            page.keyboard.press("Alt+ArrowDown")
            time.sleep(0.25)
            switches.append(metrics.script_ms() - before)
        results["switch_conversation_script_ms"] = summary(switches)
        # Onto the long conversation (its latest messages rendered, the rest on scroll).
        long_switches = []
        for _ in range(max(5, runs // 3)):
            page.keyboard.press("Alt+ArrowUp")  # off it (it is the oldest: last in Mine)
            time.sleep(0.25)
            before = metrics.script_ms()
            page.evaluate(f"location.hash = '#/inbox/mine/{opened[0][0]}'")
            time.sleep(0.25)
            long_switches.append(metrics.script_ms() - before)
        results["switch_to_long_conversation_script_ms"] = summary(long_switches)
        results["switch_note"] = ("the long one's switch is triggered by a one-line evaluate (location.hash), "
                                  "whose own script time is included")

        on_screen, elsewhere = opened[0], opened[len(opened) // 2]
        incoming_here = shopper_messages(base, metrics, on_screen, runs)
        incoming_there = shopper_messages(base, metrics, elsewhere, runs)
        results["incoming_message_on_screen_script_ms"] = summary(incoming_here)
        results["incoming_message_other_conversation_script_ms"] = summary(incoming_there)
        results["page_errors"] = errors
        browser.close()
    results["messages_seeded_in_view"] = held
    return results


def shopper_messages(base: str, metrics: Metrics, target: tuple[str, str], runs: int) -> list[float]:
    """A shopper writes into `target`; the page's script time for each message (the synchronous
    client: Playwright's sync API owns this thread's event loop)."""
    conversation_id, shop_id = target
    url = base.replace("http://", "ws://") + "/ws/widget"
    times: list[float] = []
    with connect(url, origin=base, compression=None) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "hello", "identity": {"user_id": shop_id, "token": customer_token(shop_id)}}))
        time.sleep(1.0)
        for n in range(runs):
            before = metrics.script_ms()
            ws.send(json.dumps({"type": "message.send", "client_id": uuid.uuid4().hex,
                                "conversation_id": conversation_id, "text": f"One more question, number {n}"}))
            time.sleep(0.25)
            times.append(metrics.script_ms() - before)
    return times


async def measure_search(base: str, runs: int) -> dict[str, Any]:
    queries = ["refund", "zipper jacket", "parc", "norway customs delivery", "waterproof boots size", "Customer 1234"]
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, headers={"Origin": base}, timeout=30) as http:
        r = await http.post("/api/v1/session", json={"email": ADMIN, "password": PASSWORD})
        r.raise_for_status()
        for q in queries:
            await http.get("/api/v1/search", params={"q": q})  # warm the page cache once
            took = []
            hits = 0
            for _ in range(runs):
                started = time.perf_counter()
                r = await http.get("/api/v1/search", params={"q": q, "limit": 30})
                took.append((time.perf_counter() - started) * 1000)
                r.raise_for_status()
                body = r.json()
                hits = len(body["hits"]) + len(body["conversations"])
            out[q] = {**summary(took), "results": hits}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", type=int, default=200, help="open conversations assigned to the agent")
    parser.add_argument("--held", type=int, default=5000, help="messages in those conversations")
    parser.add_argument("--stored", type=int, default=100_000, help="messages stored in all (search)")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rapport-console-bench-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_") and k != "REDIS_URL"},
        "DATABASE_URL": str(tmp / "console.db"),
        "RAPPORT_SHOP_SECRET": SECRET,
        "RAPPORT_SECRET_KEY": "bench-secret-key",
        "RAPPORT_ADMIN_PASSWORD": PASSWORD,
        "RAPPORT_ARGON2_TIME_COST": "1",
        "RAPPORT_ARGON2_MEMORY_KIB": "8",
        "RAPPORT_ARGON2_PARALLELISM": "1",
        "RAPPORT_RATE_PER_SECOND": "1000",
        "RAPPORT_RATE_BURST": "1000",
        "RAPPORT_AUTO_ASSIGN": "false",
        # The long conversation is replayed whole, not as a snapshot: all 5,000 messages held.
        "RAPPORT_REPLAY_LIMIT": str(args.held + 100),
        "RAPPORT_LOG_LEVEL": "warning",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def serve() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("the server did not start")
            time.sleep(0.1)

    async def admin_id() -> str:
        db = Database(env["DATABASE_URL"])
        await db.open()
        row = await db.fetchone("SELECT id FROM agents WHERE role = 'admin'")
        await db.close()
        assert row is not None
        return str(row["id"])

    # First start makes the admin; the history is stored with the server stopped (the seeding's long
    # write transactions would keep the server's own writes waiting), then it serves.
    server = serve()
    server.terminate()
    server.wait(20)
    started = time.monotonic()
    opened = asyncio.run(seed(Path(env["DATABASE_URL"]), asyncio.run(admin_id()), args.open, args.held, args.stored))
    seeded = time.monotonic() - started
    print(f"seeded {args.stored} messages ({args.open} open conversations, {args.held} in them) in {seeded:.1f} s")
    server = serve()
    try:
        search = asyncio.run(measure_search(base, args.runs))
        console = measure_console(base, opened, args.runs, args.held)
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "args": vars(args),
        "search_ms": search,
        "console": console,
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-console.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
