"""Several server processes sharing fan-out through a real Redis: chat and pushes cross processes,
and a Redis crash in the middle of a broadcast loses and doubles nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import msgspec
import pytest

from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import ProcessServer
from tests.support.redis_server import RedisServer
from tests.support.shop import Shop, browser, notifications


@dataclass
class Cluster:
    a: ProcessServer
    b: ProcessServer
    redis: RedisServer


@pytest.fixture
def cluster(settings: Settings, redis_server: RedisServer) -> Iterator[Cluster]:
    # Every test socket comes from 127.0.0.1: the per-address connect limit (a burst of 60) would
    # refuse most of the 300 sockets of the SIGTERM test, and racing its close against their hello.
    tuned = msgspec.structs.replace(settings, frequency_cap_per_day=100, redis_url=redis_server.url,
                                    position_check_interval=30.0, visitor_connects_per_minute=100_000)
    a = ProcessServer(tuned).start()
    b = ProcessServer(tuned).start()
    try:
        yield Cluster(a, b, redis_server)
    finally:
        a.stop()
        b.stop()


@pytest.fixture
async def shop(cluster: Cluster) -> AsyncIterator[Shop]:
    async with httpx.AsyncClient(base_url=cluster.a.base) as http:
        cookie = await cluster.a.login()
        http.cookies.set("rapport_session", cookie)
        made = await http.post("/api/v1/api-keys", json={"name": "shop", "scopes": ["*"]})
        assert made.status_code == 201, made.text
    client = Shop(cluster.a, made.json()["token"])
    yield client
    await client.close()


async def test_chat_between_a_shopper_on_one_process_and_an_agent_on_another(cluster: Cluster) -> None:
    agent = await cluster.b.agent()
    shopper = await cluster.a.customer()
    ack = await shopper.send_message("Is this in stock?")
    conv = ack["conversation_id"]
    seen = await agent.wait_type("event", conversation_id=conv, kind="message", timeout=10)
    assert seen["text"] == "Is this in stock?"
    reply = await agent.send_message("Yes, 12 left.", conv)
    got = await shopper.wait_type("event", conversation_id=conv, seq=reply["seq"], timeout=10)
    assert got["text"] == "Yes, 12 left."
    # Typing (ephemeral) crosses processes too.
    await agent.send(type="typing", conversation_id=conv, active=True)
    assert (await shopper.wait_type("typing", timeout=5))["author_type"] == "agent"


async def test_a_broadcast_reaches_customers_on_both_processes_personalised(cluster: Cluster, shop: Shop) -> None:
    await shop.customer("on-a", name="Ann")
    await shop.customer("on-b", name="Bob")
    ann = await browser(cluster.a, "on-a")
    bob = await browser(cluster.b, "on-b")
    await shop.campaign(title="Hi {{ customer.first_name }}")
    assert (await ann.wait_type("notification", timeout=10))["title"] == "Hi Ann"
    assert (await bob.wait_type("notification", timeout=10))["title"] == "Hi Bob"
    await ann.quiet(0.3)
    await bob.quiet(0.3)
    assert len(notifications(ann)) == len(notifications(bob)) == 1


async def test_one_customer_with_tabs_on_both_processes_gets_a_broadcast_in_each_once(
    cluster: Cluster, shop: Shop
) -> None:
    # Both processes serve the same customer and race to store it: one stores, and the other's
    # tab must still get that very notification (same seq), once.
    for round_ in range(3):
        external_id = f"two-tabs-{round_}"
        await shop.customer(external_id, name="Tia")
        tab_a = await browser(cluster.a, external_id)
        tab_b = await browser(cluster.b, external_id)
        # (Earlier rounds' campaigns are still running: a new customer gets them on connect.)
        sent = await shop.campaign(name=f"round {round_}", title="Hi {{ customer.first_name }}")
        got_a = await tab_a.wait_type("notification", timeout=10, campaign_id=sent["id"])
        got_b = await tab_b.wait_type("notification", timeout=10, campaign_id=sent["id"])
        assert got_a["title"] == got_b["title"] == "Hi Tia" and got_a["seq"] == got_b["seq"]
        await tab_a.quiet(0.3)
        await tab_b.quiet(0.3)
        for tab in (tab_a, tab_b):
            assert [n["campaign_id"] for n in notifications(tab)].count(sent["id"]) == 1
        await tab_a.close()
        await tab_b.close()


async def test_redis_killed_during_a_broadcast_loses_and_doubles_nothing(cluster: Cluster, shop: Shop) -> None:
    customers: list[tuple[str, WsClient]] = []
    for i in range(12):
        await shop.customer(f"c{i}", name=f"Customer {i}")
    for i in range(12):
        server = cluster.a if i % 2 == 0 else cluster.b
        customers.append((f"c{i}", await browser(server, f"c{i}")))

    titles = [f"Offer {n}" for n in range(6)]
    for n, title in enumerate(titles):
        if n == 2:
            cluster.redis.kill()  # mid-broadcast: hints for the next campaigns are lost
        if n == 4:
            cluster.redis.start()
        await shop.campaign(title=title)
        await asyncio.sleep(0.2)

    async def complete(client: WsClient) -> None:
        while len({n["title"] for n in notifications(client)}) < len(titles):
            await client.recv(15)

    try:
        await asyncio.wait_for(asyncio.gather(*(complete(c) for _, c in customers)), 30)
    except TimeoutError:
        for external_id, client in customers:
            print(external_id, "got", sorted((n["seq"], n["title"]) for n in notifications(client)))
        raise
    for external_id, client in customers:
        await client.quiet(0.5)
        got = notifications(client)
        assert sorted(n["title"] for n in got) == titles, external_id
        seqs = [n["seq"] for n in got]
        assert len(seqs) == len(set(seqs)) == len(titles), f"{external_id} got duplicates: {seqs}"


async def test_the_daily_cap_holds_across_processes(settings: Settings, redis_server: RedisServer) -> None:
    # Campaigns sent at once through both processes race to the same customers, whose tabs are
    # on both: the cap is decided in the store's write transaction, so each gets one.
    capped = msgspec.structs.replace(settings, frequency_cap_per_day=1, redis_url=redis_server.url)
    a, b = ProcessServer(capped).start(), ProcessServer(capped).start()
    try:
        async with httpx.AsyncClient(base_url=a.base) as http:
            http.cookies.set("rapport_session", await a.login())
            made = await http.post("/api/v1/api-keys", json={"name": "shop", "scopes": ["*"]})
        token = made.json()["token"]
        via_a, via_b = Shop(a, token), Shop(b, token)
        tabs = []
        for i in range(4):
            await via_a.customer(f"c{i}", name=f"Customer {i}")
            tabs += [await browser(a, f"c{i}"), await browser(b, f"c{i}")]
        drafts = [await (via_a if n % 2 else via_b).campaign(send=False, title=f"offer {n}") for n in range(6)]
        await asyncio.gather(*(
            (via_a if n % 2 else via_b).call("POST", f"/api/v1/campaigns/{d['id']}/send", 200, json={})
            for n, d in enumerate(drafts)))
        for tab in tabs:
            await tab.wait_type("notification", timeout=10)
            await tab.quiet(0.5)
            assert len(notifications(tab, "offer")) == 1
        for i in range(0, len(tabs), 2):  # both tabs of a customer show the same one
            assert notifications(tabs[i])[0]["seq"] == notifications(tabs[i + 1])[0]["seq"]
        await via_a.close()
        await via_b.close()
    finally:
        a.stop()
        b.stop()


async def test_sigterm_with_many_sockets_and_redis_exits_cleanly(cluster: Cluster) -> None:
    # Hundreds of sockets closing at shutdown queue their Redis unsubscribes while the broker is
    # closing: the process must still exit 0, quickly, without a traceback.
    clients = await asyncio.gather(*(cluster.a.customer() for _ in range(300)))
    took = await asyncio.to_thread(cluster.a.terminate, 20)
    assert took < 12, f"graceful shutdown took {took:.1f}s"
    # uvicorn re-raises the signal once shut down, so a clean exit reads as "terminated by SIGTERM".
    assert cluster.a.proc is not None and cluster.a.proc.returncode in (0, -15)
    log = cluster.a.log_path.read_text()
    assert "Traceback" not in log and "shutdown failed" not in log, log[-3000:]
    assert len(clients) == 300


async def test_an_agent_coming_online_is_announced_to_customers_once(cluster: Cluster) -> None:
    # Each announcement reaches every customer on every process: the other process must not
    # announce the same change again at its next heartbeat (every second in tests).
    shopper = await cluster.a.customer()
    assert shopper.welcome["agents_online"] is False
    agent = await cluster.b.agent()
    await shopper.wait_type("presence", timeout=5, agents_online=True)
    await shopper.quiet(2.5)  # two heartbeats of each process
    online = [f for f in shopper.frames if f["type"] == "presence" and f["agents_online"]]
    assert len(online) == 1, online
    await agent.close()


async def test_a_process_starting_tells_customers_nothing(cluster: Cluster) -> None:
    # A deploy starts every process again: one that has nothing new to announce must not send a
    # presence frame to every connected customer at its first heartbeat.
    shopper = await cluster.a.customer()
    await shopper.wait_type("presence")  # the one every connect gets
    third = ProcessServer(cluster.a.settings).start()
    try:
        await shopper.quiet(2.5)  # two heartbeats of the new process
        assert len([f for f in shopper.frames if f["type"] == "presence"]) == 1
    finally:
        third.stop()


async def test_password_guessing_is_counted_across_processes(cluster: Cluster) -> None:
    # A guesser spreading tries over the processes gets 10 per e-mail per window in all, not 10 each.
    async def login(server: ProcessServer, password: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=server.base) as http:
            return await http.post("/api/v1/session", json={"email": "admin@example.com", "password": password})

    for n in range(10):
        assert (await login(cluster.a if n % 2 else cluster.b, "guess")).status_code == 401
    for server in (cluster.a, cluster.b):
        refused = await login(server, "console-pass-1")
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
