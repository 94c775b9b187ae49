"""The mail queue under stress, on a real SMTP server (aiosmtpd): the server down for a while then
up, two server processes sending from one queue, a process killed with mail queued, dead letters
for admins, agents alerted, and header injection attempts that go nowhere."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from server.mail.message import new_message_id
from server.store import Database
from server.store.mail_queue import NewMail, add
from tests.integration.test_mail import mail_settings
from tests.support.live import LiveServer, ProcessServer
from tests.support.redis_server import RedisServer
from tests.support.shop import Shop
from tests.support.smtp_sink import SmtpSink


def mails(count: int, tag: str) -> list[NewMail]:
    return [
        NewMail(kind="notification", marketing=False, recipient=f"c{i}@example.com", recipient_name=f"Customer {i}",
                context={"customer_name": f"Customer {i}", "title": f"Update {i}", "body": "Your order moved",
                         "url": None, "voucher_code": None, "expires_on": None},
                message_id=new_message_id("shop.test"), dedupe_key=f"{tag}:{i}")
        for i in range(count)
    ]


async def queue_in(database_path: str, batch: list[NewMail]) -> None:
    """Write mails into the store as a job would, from this (test) process."""
    db = Database(database_path)
    await db.open()
    try:
        await db.write(lambda tx: add(tx, batch))
    finally:
        await db.close()


async def statuses(database_path: str) -> collections.Counter[str]:
    db = Database(database_path)
    await db.open()
    try:
        return collections.Counter(r["status"] for r in await db.fetchall("SELECT status FROM mail_queue"))
    finally:
        await db.close()


def each_once(sink: SmtpSink, expected: set[str]) -> None:
    ids = [r.message_id for r in sink.received]
    doubled = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert not doubled, f"{len(doubled)} mails delivered twice"
    assert set(ids) == expected, f"{len(expected - set(ids))} missing"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    smtp = SmtpSink()  # not started: each test decides when the server is up
    try:
        yield smtp
    finally:
        smtp.stop()


async def test_smtp_down_for_a_while_then_up_every_mail_delivered_exactly_once(
    tmp_path: Path, sink: SmtpSink, live_server_factory: Any
) -> None:
    settings = mail_settings(tmp_path, smtp_url=sink.url, mail_max_attempts=20)
    server: LiveServer = await live_server_factory(settings)
    batch = mails(60, "outage")
    await server.node.db.write(lambda tx: add(tx, batch))
    await asyncio.sleep(1.5)  # the server is down: tries fail and back off
    tried = await server.node.db.fetchone("SELECT MIN(attempts) AS low, MAX(last_error) AS err FROM mail_queue")
    assert tried["low"] >= 1 and tried["err"], "every mail was tried while the server was down"
    assert sink.received == []
    sink.start()
    await sink.wait_for(60, timeout=20)
    await asyncio.sleep(0.5)  # nothing more comes
    each_once(sink, {m.message_id for m in batch})
    assert await statuses(settings.database_path) == {"sent": 60}


async def test_two_processes_sending_from_one_queue_send_nothing_twice(
    tmp_path: Path, sink: SmtpSink, redis_server: RedisServer
) -> None:
    settings = mail_settings(tmp_path, smtp_url=sink.url, redis_url=redis_server.url)
    sink.start()
    servers = [await asyncio.to_thread(ProcessServer(settings).start) for _ in range(2)]
    try:
        batch = mails(400, "two")
        await queue_in(settings.database_path, batch)
        await sink.wait_for(400, timeout=60)
        await asyncio.sleep(1.0)
        each_once(sink, {m.message_id for m in batch})
        assert await statuses(settings.database_path) == {"sent": 400}
        # Both took part: each process's SMTP connections came from its own sockets.
        peers = {r.peer_pid for r in sink.received}
        assert {s.proc.pid for s in servers if s.proc} <= peers
    finally:
        for s in servers:
            await asyncio.to_thread(s.stop)


async def test_a_killed_process_with_mail_queued_loses_nothing(tmp_path: Path, sink: SmtpSink) -> None:
    settings = mail_settings(tmp_path, smtp_url=sink.url, smtp_timeout=0.5, mail_max_attempts=30)
    first = await asyncio.to_thread(ProcessServer(settings).start)
    batch = mails(80, "restart")
    try:
        await queue_in(settings.database_path, batch)
        await asyncio.sleep(1.0)  # tried, failing: the SMTP server is down
    finally:
        first.kill()  # SIGKILL: whatever it had claimed stays claimed until its lease ends
    assert sink.received == []
    sink.start()
    again = await asyncio.to_thread(ProcessServer(settings, port=first.port).start)
    try:
        await sink.wait_for(80, timeout=45)
        await asyncio.sleep(0.5)
        each_once(sink, {m.message_id for m in batch})
    finally:
        await asyncio.to_thread(again.stop)
    assert await statuses(settings.database_path) == {"sent": 80}


async def test_a_refused_mail_is_a_dead_letter_admins_see_and_retry(
    tmp_path: Path, sink: SmtpSink, live_server_factory: Any
) -> None:
    settings = mail_settings(tmp_path, smtp_url=sink.url)
    sink.refuse.add("c0@example.com")
    sink.start()
    server: LiveServer = await live_server_factory(settings)
    batch = [
        *mails(3, "dead"),
        msgspec.structs.replace(mails(1, "bad")[0], recipient="not an address"),
        # A context its template cannot render: a dead letter too, and the batch goes on.
        NewMail(kind="notification", marketing=False, recipient="c9@example.com", context={},
                message_id=new_message_id("shop.test"), dedupe_key="dead:empty"),
    ]
    await server.node.db.write(lambda tx: add(tx, batch))
    await sink.wait_for(2, timeout=10)
    cookie = await server.login()
    async with httpx.AsyncClient(base_url=server.base, cookies={"rapport_session": cookie}) as http:
        for _ in range(50):
            listing = (await http.get("/api/v1/mail", params={"status": "dead"})).json()
            if listing["counts"]["dead"] == 3:
                break
            await asyncio.sleep(0.1)
        assert listing["counts"] == {"queued": 0, "sent": 2, "dead": 3, "suppressed": 0}
        dead = {m["recipient"]: m for m in listing["mails"]}
        assert dead["c0@example.com"]["attempts"] == 1 and "550" in dead["c0@example.com"]["last_error"]
        assert "not an e-mail address" in dead["not an address"]["last_error"]
        assert "'title' is undefined" in dead["c9@example.com"]["last_error"]
        sink.refuse.clear()
        retried = await http.post(f"/api/v1/mail/{dead['c0@example.com']['id']}/retry")
        assert retried.status_code == 200 and retried.json()["status"] == "queued"
        assert (await http.post(f"/api/v1/mail/{dead['c0@example.com']['id']}/retry")).status_code in (200, 409)
        assert (await http.post("/api/v1/mail/m_nothing/retry")).status_code == 404
        agent_id = await server.add_agent("plain@example.com", "Plain")
        assert agent_id
        plain = await server.login("plain@example.com", "staff-pass-22")
    async with httpx.AsyncClient(base_url=server.base, cookies={"rapport_session": plain}) as http:
        refused = await http.get("/api/v1/mail")
        assert refused.status_code == 403
    delivered = await sink.wait_for(1, to="c0@example.com", timeout=10)
    assert len(delivered) == 1


async def test_agents_are_alerted_when_a_message_waits_and_nobody_is_online(
    tmp_path: Path, sink: SmtpSink, live_server_factory: Any
) -> None:
    sink.start()
    server: LiveServer = await live_server_factory(mail_settings(tmp_path, smtp_url=sink.url))
    await server.add_agent("sam@example.com", "Sam\r\nBcc: evil@example.com")
    shopper = await server.customer()
    waiting = (await shopper.send_message("Is anyone there?"))["conversation_id"]
    alerts = await sink.wait_for(2, timeout=10)
    assert sorted(r.recipients[0] for r in alerts) == ["admin@example.com", "sam@example.com"]
    for alert in alerts:
        assert "Is anyone there?" in alert.text() and f"#conversation={waiting}" in alert.text()
        assert alert.message["Bcc"] is None and len(alert.recipients) == 1
    await asyncio.sleep(1.0)
    assert len(sink.received) == 2, "one alert per message, not one per look"
    # With an agent online, a new waiting message alerts nobody.
    agent = await server.agent()
    await shopper.send_message("Hello again", waiting)
    await asyncio.sleep(1.5)
    assert len(sink.received) == 2
    await agent.close()
    await shopper.close()


async def test_header_injection_attempts_are_neutralised(
    tmp_path: Path, sink: SmtpSink, live_server_factory: Any
) -> None:
    sink.start()
    settings = mail_settings(tmp_path, smtp_url=sink.url)
    server: LiveServer = await live_server_factory(settings)
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    shop = Shop(server, token)
    try:
        hostile = "Ann\r\nBcc: evil@example.com\r\nSubject: pwned"
        await shop.customer("inj", name=hostile, email="inj@example.com")
        await shop.call("PUT", "/api/v1/customers/inj2", 422, json={"email": "a@example.com\r\nBcc: evil@x.io"})
        await shop.call("POST", "/api/v1/orders/events", 201, json={
            "customer_id": "inj", "order_id": "O-9", "status": "shipped",
            "title": "Shipped\r\nBcc: evil@example.com\nX-Evil: 1", "text": "<script>alert(1)</script>"})
        got = await sink.wait_for(1, to="inj@example.com", timeout=10)
        assert len(got) == 1
        mail = got[0]
        assert mail.recipients == ["inj@example.com"]
        assert mail.message["Bcc"] is None and mail.message["X-Evil"] is None
        assert str(mail.message["Subject"]) == "Shipped Bcc: evil@example.com X-Evil: 1"
        to = mail.message["To"].addresses
        assert len(to) == 1 and to[0].addr_spec == "inj@example.com"
        assert to[0].display_name == "Ann Bcc: evil@example.com Subject: pwned"
        assert "&lt;script&gt;" in mail.html() and "<script>" not in mail.html()
        assert sink.to("evil@example.com") == []
    finally:
        await shop.close()
