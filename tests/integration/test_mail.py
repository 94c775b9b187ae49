"""E-mail end to end on real servers, a real SMTP server (aiosmtpd) and the file outbox: offline
replies threaded and answered by mail, forged reply addresses refused, transcripts, the push
fallback, unsubscribing, the queue through an outage, across two processes and a restart, and
header injection."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

from server.mail.message import new_message_id
from server.settings import Settings
from server.store.mail_queue import NewMail, add
from tests.support.live import LiveServer, test_settings
from tests.support.redis_server import free_port
from tests.support.shop import Shop
from tests.support.smtp_sink import STRICT, SmtpSink


def mail_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_timeout": 2.0,
        "mail_from": "shop@shop.test",
        "mail_from_name": "Test Shop",
        "mail_shop_name": "Test Shop",
        "mail_reply_domain": "replies.shop.test",
        "mail_offline_reply_delay": 0.6,
        "mail_reply_batch_window": 0.6,
        "mail_agent_alert_delay": 0.5,
        "mail_order_unseen_delay": 0.5,
        "mail_reminder_unseen_delay": 0.5,
        "mail_retry_base": 0.2,
        "mail_poll_interval": 0.1,
        "scheduler_interval": 0.2,
        "public_url": "http://shop.test",
        "mail_outbox": str(tmp_path / "outbox"),
    }
    values.update(overrides)
    return test_settings(tmp_path, **values)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    smtp = SmtpSink().start()
    try:
        yield smtp
    finally:
        smtp.stop()


@pytest.fixture
def settings(tmp_path: Path, sink: SmtpSink) -> Settings:
    return mail_settings(tmp_path, smtp_url=sink.url, mail_inbound=True, mail_inbound_host="127.0.0.1",
                         mail_inbound_port=free_port())


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    client = Shop(server, token)
    try:
        yield client
    finally:
        await client.close()


async def customer_events(server: LiveServer, conversation_id: str) -> list[tuple[str, str]]:
    rows = await server.node.db.fetchall(
        "SELECT author_type, text FROM events WHERE conversation_id = ? AND kind = 'message' ORDER BY seq",
        (conversation_id,),
    )
    return [(r["author_type"], r["text"]) for r in rows]


async def reply_by_mail(settings: Settings, to: str, text: str, *, in_reply_to: str | None = None,
                        headers: dict[str, str] | None = None) -> str | Exception:
    """The customer's mail client answering: our reply address, their text above the quote."""
    msg = EmailMessage()
    msg["From"] = "Ann Lee <ann@example.com>"
    msg["To"] = to
    msg["Subject"] = "Re: your message"
    msg["Message-ID"] = new_message_id("mail.example.com")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(f"{text}\n\nOn Tue, 1 Dec 2026 at 10:00, Test Shop <shop@shop.test> wrote:\n"
                    "> ## Write your reply above this line ##\n> Hello Ann, it ships today\n")
    try:
        _errors, response = await aiosmtplib.send(msg, hostname="127.0.0.1", port=settings.mail_inbound_port,
                                                   start_tls=False, timeout=5)
    except aiosmtplib.SMTPException as exc:
        return exc
    return str(response)


# ---------------------------------------------------------------------------- offline replies


async def test_offline_replies_arrive_batched_and_threaded_and_a_reply_lands_in_the_conversation(
    server: LiveServer, shop: Shop, sink: SmtpSink, settings: Settings
) -> None:
    await shop.customer("u1", name="Ann Lee", email="ann@example.com")
    ann = await shop.browser("u1")
    asked = await ann.send_message("Where is my parcel?")
    conversation = asked["conversation_id"]
    await ann.close()  # Ann leaves the site
    agent = await server.agent()
    await agent.send_message("It ships today.", conversation)
    await agent.send_message("Tracking number: ZX-42", conversation)

    first = (await sink.wait_for(1, to="ann@example.com"))
    assert len(first) == 1, "two replies in quick succession go out as one mail"
    mail = first[0].message
    text = first[0].text()
    assert "It ships today." in text and "Tracking number: ZX-42" in text
    assert f"#rapport-chat={conversation}" in text
    assert mail["To"].addresses[0].addr_spec == "ann@example.com"
    reply_to = mail["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith("reply+") and reply_to.endswith("@replies.shop.test")
    assert mail["In-Reply-To"] is None  # the first mail of the thread

    # Ann answers from her mail client: only her new text lands, as her message.
    answered = await reply_by_mail(settings, reply_to, "Thanks, that was quick!", in_reply_to=first[0].message_id)
    assert not isinstance(answered, Exception) and "stored" in answered, answered
    seen = await agent.wait_for(lambda f: f["type"] == "event" and f.get("author_type") == "customer"
                                and f.get("text") == "Thanks, that was quick!")
    assert seen["conversation_id"] == conversation
    assert (await customer_events(server, conversation))[-1] == ("customer", "Thanks, that was quick!")

    # The same mail delivered again (a relay retrying) is not stored twice.
    before = await server.event_count()
    # The next reply answers her mail: In-Reply-To her Message-ID, References the whole thread.
    await agent.send_message("You're welcome!", conversation)
    both = await sink.wait_for(2, to="ann@example.com")
    assert len(both) == 2
    second = both[1].message
    customer_mail_id = second["In-Reply-To"]
    assert customer_mail_id is not None and customer_mail_id != first[0].message_id
    assert str(second["References"]).split() == [first[0].message_id, customer_mail_id]
    assert "You're welcome!" in both[1].text() and "It ships today." not in both[1].text()
    assert await server.event_count() == before + 1  # the agent's message only
    await agent.close()


async def test_replies_read_on_the_site_are_not_mailed(server: LiveServer, shop: Shop, sink: SmtpSink) -> None:
    await shop.customer("u2", name="Bo", email="bo@example.com")
    bo = await shop.browser("u2")
    conversation = (await bo.send_message("Hello?"))["conversation_id"]
    agent = await server.agent()
    await agent.send_message("Hi Bo, how can I help?", conversation)
    got = await bo.wait_type("event", kind="message", author_type="agent")
    await bo.send(type="read", conversation_id=conversation, seq=got["seq"])
    await asyncio.sleep(0.3)
    await bo.close()
    await asyncio.sleep(2.0)  # well past the delay and the batch window
    assert sink.to("bo@example.com") == []
    await agent.close()


# ---------------------------------------------------------------------------- inbound refused


async def test_a_forged_or_stale_reply_address_stores_nothing(
    server: LiveServer, shop: Shop, sink: SmtpSink, settings: Settings
) -> None:
    await shop.customer("u3", name="Cy", email="cy@example.com")
    cy = await shop.browser("u3")
    conversation = (await cy.send_message("Hi"))["conversation_id"]
    await cy.close()
    replies = server.node.mail.replies
    real = replies.address(conversation, (await server.node.db.fetchone(
        "SELECT customer_id FROM conversations WHERE id = ?", (conversation,)))["customer_id"])
    assert real is not None
    local, _, domain = real.partition("@")
    name, day, signature = local.split(".")
    forged = [
        f"{name}.{day}.{'a' * len(signature)}@{domain}",  # a made-up signature
        f"reply+c_{'x' * 16}.{day}.{signature}@{domain}",  # someone else's conversation, this signature
        replies.address(conversation, "cu_someone-else", now=time.time()),  # signed for another customer
        replies.address(conversation, (await server.node.db.fetchone(
            "SELECT customer_id FROM conversations WHERE id = ?", (conversation,)))["customer_id"],
            now=time.time() - 100 * 86_400),  # stale: older than the maximum age
    ]
    before = await server.event_count()
    for address in forged:
        assert address is not None
        refused = await reply_by_mail(settings, address, "Let me in")
        assert isinstance(refused, aiosmtplib.SMTPResponseException) and refused.code == 550, address
        async with httpx.AsyncClient(base_url=server.base) as http:
            raw = (f"To: {address}\r\nFrom: x@example.com\r\nSubject: hi\r\nMessage-ID: <{uuid.uuid4().hex}@x>\r\n"
                   "\r\nLet me in\r\n").encode()
            r = await http.post("/api/v1/mail/inbound", content=raw, headers={"content-type": "message/rfc822"})
        assert r.status_code == 200 and r.json()["outcome"] == "refused", r.text
    # An address that is not ours at all is refused at RCPT: the listener relays nothing.
    relay = await reply_by_mail(settings, "someone@elsewhere.example", "spam")
    assert isinstance(relay, aiosmtplib.SMTPException)
    assert await server.event_count() == before

    # The genuine address, posted by a provider (SendGrid's raw form), is stored.
    form = {"email": (f"To: {real}\r\nFrom: cy@example.com\r\nSubject: Re\r\nMessage-ID: <{uuid.uuid4().hex}@x>"
                      "\r\n\r\nStill there?\r\n").encode(), "envelope": b'{"to": ["' + real.encode() + b'"]}'}
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.post("/api/v1/mail/inbound", files={k: (None, v) for k, v in form.items()})
    assert r.status_code == 200 and r.json()["outcome"] == "stored", r.text
    assert (await customer_events(server, conversation))[-1] == ("customer", "Still there?")


# ---------------------------------------------------------------------------- transcripts (file outbox)


@pytest.fixture
def outbox_settings(tmp_path: Path) -> Settings:
    return mail_settings(tmp_path)


async def test_transcript_on_close_lands_in_the_outbox(
    outbox_settings: Settings, live_server_factory: Any
) -> None:
    server: LiveServer = await live_server_factory(outbox_settings)
    visitor = await server.customer()
    token = visitor.welcome["visitor_token"]
    conversation = (await visitor.send_message("Do you ship to Norway? <b>bold</b>"))["conversation_id"]
    agent = await server.agent()
    await agent.send_message("Yes, in 3 days.", conversation)
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {token}"}) as http:
        bad = await http.post(f"/api/v1/conversations/{conversation}/transcript",
                              json={"email": "me@example.com\r\nBcc: x@evil.example"})
        assert bad.status_code == 422
        asked = await http.post(f"/api/v1/conversations/{conversation}/transcript", json={"email": "vi@example.com"})
        assert asked.status_code == 202 and asked.json() == {"email": "vi@example.com"}
        # Someone else's conversation: not found, nothing noted.
        other = await server.customer()
        r = await http.post(f"/api/v1/conversations/{conversation}/transcript", json={},
                            headers={"Authorization": f"Bearer {other.welcome['visitor_token']}"})
        assert r.status_code == 404
    outbox = Path(outbox_settings.mail_outbox)
    await asyncio.sleep(1.0)
    assert not list(outbox.glob("*.eml")), "not before the conversation closes"
    await visitor.send(type="conversation.close", client_id=uuid.uuid4().hex, conversation_id=conversation)
    deadline = time.monotonic() + 10
    while not list(outbox.glob("*.eml")) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    files = list(outbox.glob("*.eml"))
    assert len(files) == 1
    raw = files[0].read_bytes()
    message = email.message_from_bytes(raw.split(b"\r\n", 1)[1], policy=STRICT)
    assert message["To"].addresses[0].addr_spec == "vi@example.com"
    assert "transcript" in str(message["Subject"]).lower()
    text = message.get_body(("plain",)).get_content()
    assert "Do you ship to Norway? <b>bold</b>" in text and "Yes, in 3 days." in text
    html = message.get_body(("html",)).get_content()
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html  # escaped in HTML
    await asyncio.sleep(0.6)
    assert len(list(outbox.glob("*.eml"))) == 1  # sent once
    await agent.close()
    await visitor.close()
    await other.close()


async def test_the_widgets_transcript_wish_mails_the_transcript_once_on_close(
    outbox_settings: Settings, live_server_factory: Any
) -> None:
    # The "e-mail me the transcript" box of the widget's offline and pre-chat forms (a contact
    # with transcript: true) is the same wish as the REST call above.
    server: LiveServer = await live_server_factory(outbox_settings)
    visitor = await server.customer()
    sent = await visitor.send_message("Is the blue one back in stock?",
                                      contact={"email": "ida@example.com", "name": "Ida", "transcript": True})
    conversation = sent["conversation_id"]
    agent = await server.agent()
    await agent.send_message("It is, since Monday.", conversation)
    outbox = Path(outbox_settings.mail_outbox)
    await agent.send(type="conversation.close", client_id=uuid.uuid4().hex, conversation_id=conversation)
    deadline = time.monotonic() + 10
    while not list(outbox.glob("*.eml")) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    files = list(outbox.glob("*.eml"))
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes().split(b"\r\n", 1)[1], policy=STRICT)
    assert message["To"].addresses[0].addr_spec == "ida@example.com"
    assert "transcript" in str(message["Subject"]).lower()
    text = message.get_body(("plain",)).get_content()
    assert "Is the blue one back in stock?" in text and "It is, since Monday." in text
    await asyncio.sleep(0.6)
    assert len(list(outbox.glob("*.eml"))) == 1  # sent once
    await agent.close()
    await visitor.close()


# ---------------------------------------------------------------------------- the push fallback


async def test_push_fallback_reaches_only_those_who_did_not_see_it_live(
    server: LiveServer, shop: Shop, sink: SmtpSink
) -> None:
    await shop.customer("live", name="Liv", email="liv@example.com")
    await shop.customer("away", name="Al", email="al@example.com")
    await shop.customer("noconsent", name="Nina", email="nina@example.com", marketing_consent=False)
    await shop.customer("noaddress", name="Ned")
    liv = await shop.browser("live")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    campaign = await shop.campaign(title="Hi {{ customer.first_name }}", body="20% off today",
                                   email_after=soon.isoformat(), voucher={"kind": "percent", "amount": 20})
    assert campaign["email_after"] is not None
    seen = await liv.wait_type("notification", kind="offer")
    await liv.send(type="notification.track", seq=seen["seq"], action="delivered")

    # Order updates: one seen in the widget, one not.
    for order in ("O-1", "O-2"):
        await shop.call("POST", "/api/v1/orders/events", 201, json={
            "customer_id": "live", "order_id": order, "status": "shipped", "text": f"{order} is on its way"})
    first = await liv.wait_type("notification", kind="order")
    await liv.send(type="notification.track", seq=first["seq"], action="delivered")

    mails = await sink.wait_for(1, to="al@example.com")
    assert len(mails) == 1
    offer = mails[0]
    assert "Hi Al" in str(offer.message["Subject"]) and "20% off today" in offer.text()
    code = (await server.node.db.fetchone(
        "SELECT v.code FROM vouchers v JOIN customers c ON c.id = v.customer_id WHERE c.external_id = 'away'"))["code"]
    assert code in offer.text(), "the mail carries the voucher issued with the customer's notification"
    assert offer.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(offer.message["List-Unsubscribe"]).startswith("<http://shop.test/mail/unsubscribe/")

    order_mails = await sink.wait_for(1, to="liv@example.com")
    await asyncio.sleep(1.5)
    order_mails = sink.to("liv@example.com")
    assert [m.message["Subject"] for m in order_mails] == [f"Order {second}: shipped" for second in ("O-2",)]
    assert order_mails[0].message["List-Unsubscribe"] is None  # transactional
    assert sink.to("nina@example.com") == []
    assert len(sink.to("al@example.com")) == 1
    await liv.close()


# ---------------------------------------------------------------------------- unsubscribe


async def test_the_unsubscribe_link_and_the_one_click_post_turn_consent_off(
    server: LiveServer, shop: Shop, sink: SmtpSink
) -> None:
    for who in ("ua", "ub"):
        await shop.customer(who, name=who.upper(), email=f"{who}@example.com")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.5)
    await shop.campaign(name="First", title="First offer", body="10% off", email_after=soon.isoformat())
    mails = {who: (await sink.wait_for(1, to=f"{who}@example.com"))[0] for who in ("ua", "ub")}
    links = {who: str(m.message["List-Unsubscribe"]).strip("<>") for who, m in mails.items()}
    assert all(link in mails[who].text() for who, link in links.items())
    path = {who: link.removeprefix("http://shop.test") for who, link in links.items()}
    async with httpx.AsyncClient(base_url=server.base) as http:
        # A mail scanner following the link changes nothing: the page asks to confirm.
        page = await http.get(path["ua"])
        assert page.status_code == 200 and "u***@example.com" in page.text and "<form method=\"post\"" in page.text
        assert (await shop.call("GET", "/api/v1/customers/ua", 200))["marketing_consent"] is True
        done = await http.post(path["ua"])  # the page's button
        assert done.status_code == 200 and "no more offers" in done.text
        one_click = await http.post(path["ub"], content=b"List-Unsubscribe=One-Click",
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        assert one_click.status_code == 200
        forged = await http.post(path["ub"][:-3] + "aaa")
        assert forged.status_code == 404
    for who in ("ua", "ub"):
        customer = await shop.call("GET", f"/api/v1/customers/{who}", 200)
        assert customer["marketing_consent"] is False
    row = await server.node.db.fetchone(
        "SELECT consent_source, consent_changed_at FROM customers WHERE external_id = 'ua'")
    assert row["consent_source"] == "email:unsubscribe" and row["consent_changed_at"] > 0

    # The next marketing mail is not sent to either; a queued one is suppressed at sending time.
    customer_id = (await server.node.db.fetchone("SELECT id FROM customers WHERE external_id = 'ua'"))["id"]
    sink.stop()  # hold the queue so the mail below is still queued when consent is checked
    queued = NewMail(kind="notification", marketing=True, recipient="ua@example.com", customer_id=customer_id,
                     context={"customer_name": "UA", "title": "Late offer", "body": "x", "url": None,
                              "voucher_code": None, "expires_on": None},
                     message_id=new_message_id("shop.test"), dedupe_key="test:late")
    await server.node.db.write(lambda tx: add(tx, [queued]))
    sink.start()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.5)
    await shop.campaign(name="Second", title="Second offer", body="more", email_after=soon.isoformat())
    await asyncio.sleep(2.5)
    assert [len(sink.to(f"{who}@example.com")) for who in ("ua", "ub")] == [1, 1]
    status = (await server.node.db.fetchone("SELECT status FROM mail_queue WHERE dedupe_key = 'test:late'"))["status"]
    assert status == "suppressed"


async def test_the_daily_cap_counts_both_channels(tmp_path: Path, sink: SmtpSink, live_server_factory: Any) -> None:
    server: LiveServer = await live_server_factory(mail_settings(tmp_path, smtp_url=sink.url,
                                                                 frequency_cap_per_day=1))
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    shop = Shop(server, token)
    try:
        await shop.customer("capped", name="Cap", email="cap@example.com")
        await shop.customer("fresh", name="Fred", email="fred@example.com")
        cap = await shop.browser("capped")
        await shop.campaign(name="Live", title="Live offer", body="x", audience={"type": "customers",
                                                                                  "customer_ids": ["capped"]})
        await cap.wait_type("notification", kind="offer")  # today's one marketing message, live
        await cap.close()
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.3)
        await shop.campaign(name="Mailed", title="Mailed offer", body="y", email_after=soon.isoformat())
        fred = await sink.wait_for(1, to="fred@example.com")
        assert [str(m.message["Subject"]) for m in fred] == ["Mailed offer"]
        await asyncio.sleep(1.0)
        assert sink.to("cap@example.com") == [], "at the cap by a live push: no marketing mail that day"
        # And a mail counts as that day's message on the site too.
        again = await shop.browser("fresh")
        await shop.campaign(name="Later", title="Later offer", body="z", audience={"type": "customers",
                                                                                    "customer_ids": ["fresh"]})
        assert [n["title"] for n in await again.quiet(1.0) if n["type"] == "notification"] == []
        await again.close()
    finally:
        await shop.close()


async def test_the_inbound_endpoint_wants_its_secret_when_one_is_set(
    tmp_path: Path, live_server_factory: Any
) -> None:
    server: LiveServer = await live_server_factory(mail_settings(tmp_path, mail_inbound_secret="s3cret"))
    raw = b"To: reply+c_x.1.abc@replies.shop.test\r\nSubject: hi\r\n\r\nhello\r\n"
    headers = {"content-type": "message/rfc822"}
    async with httpx.AsyncClient(base_url=server.base) as http:
        assert (await http.post("/api/v1/mail/inbound", content=raw, headers=headers)).status_code == 401
        wrong = await http.post("/api/v1/mail/inbound", params={"key": "nope"}, content=raw, headers=headers)
        assert wrong.status_code == 401
        by_key = await http.post("/api/v1/mail/inbound", params={"key": "s3cret"}, content=raw, headers=headers)
        assert by_key.status_code == 200 and by_key.json()["outcome"] == "refused"
        basic = await http.post("/api/v1/mail/inbound", auth=("mailgun", "s3cret"), content=raw, headers=headers)
        assert basic.status_code == 200 and basic.json()["outcome"] == "refused"
