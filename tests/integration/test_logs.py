"""The log of a real `rapport serve`: one JSON object a line, a line per connection with its ids, and no
secret, token, password or message text anywhere in it, after logins, chats and pushes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from server.settings import Settings
from tests.support.live import ProcessServer
from tests.support.shop import Shop, browser, customer_token

MESSAGES = ["My parcel 4471 never came, my address is 12 Elm Street", "Sorry! Resending it today, Ms Quill."]
CAMPAIGN = {"title": "Secret sale for {{ customer.first_name }}", "body": "Code WINTER-ELEPHANT-77 gives 30%"}
ORDER_TEXT = "Your order of blue velvet slippers has shipped"


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[ProcessServer]:
    process = ProcessServer(msgspec.structs.replace(settings, log_level="info"))  # the default format: json
    await asyncio.to_thread(process.start)
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)


def lines(server: ProcessServer) -> list[dict[str, Any]]:
    text = server.log_path.read_text()
    assert text.strip()
    parsed = []
    for line in text.splitlines():
        parsed.append(json.loads(line))  # every line is one JSON object
    return parsed


async def test_a_session_is_logged_as_json_with_ids_and_without_secrets(server: ProcessServer) -> None:
    settings = server.settings
    cookie = await server.login()
    async with httpx.AsyncClient(base_url=server.base, cookies={"rapport_session": cookie}) as http:
        made = await http.post("/api/v1/api-keys", json={"name": "shop", "scopes": ["*"]},
                               headers={"X-Request-ID": "req-from-the-proxy-1"})
        assert made.status_code == 201, made.text
        assert made.headers["x-request-id"] == "req-from-the-proxy-1"
    api_token = made.json()["token"]
    shop = Shop(server, api_token)
    try:
        await shop.customer("quill", name="Penny Quill", email="penny.quill@example.org")
        jwt_token = customer_token("quill")
        penny = await browser(server, "quill")
        agent = await server.agent()
        anonymous = await server.customer()
        visitor_token = anonymous.welcome["visitor_token"]
        ack = await penny.send_message(MESSAGES[0])
        conv = ack["conversation_id"]
        await agent.wait_type("event", conversation_id=conv, kind="message", timeout=10)
        await agent.send_message(MESSAGES[1], conv)
        await penny.wait_type("event", conversation_id=conv, kind="message", author_type="agent", timeout=10)
        await shop.campaign(**CAMPAIGN)
        await penny.wait_type("notification", kind="offer", timeout=10)
        await shop.call("POST", "/api/v1/orders/events", 201, json={
            "customer_id": "quill", "order_id": "O-7", "status": "shipped", "text": ORDER_TEXT})
        await penny.wait_type("notification", kind="order", timeout=10)
        for client in (penny, agent, anonymous):
            await client.close()
        await asyncio.sleep(0.3)
    finally:
        await shop.close()
    await asyncio.to_thread(server.stop)

    log = server.log_path.read_text()
    entries = lines(server)
    secrets = {
        "admin password": settings.admin_password, "secret key": settings.secret_key,
        "shop secret": settings.shop_secret, "API key": api_token, "session cookie": cookie,
        "customer JWT": jwt_token, "visitor token": visitor_token,
        **{f"message {i}": text for i, text in enumerate(MESSAGES)},
        "campaign title": "Secret sale", "campaign body": "WINTER-ELEPHANT", "order text": "velvet slippers",
        "customer e-mail": "penny.quill@example.org",
    }
    for what, secret in secrets.items():
        assert secret and secret not in log, f"the {what} is in the log"

    # A line when each connection opens and when it closes, carrying its ids.
    opened = [e for e in entries if e["message"].endswith("connection opened")]
    closed = [e for e in entries if e["message"].endswith("connection closed")]
    assert len(opened) == len(closed) == 3
    by_connection = {e["connection_id"]: e for e in closed}
    assert len(by_connection) == 3
    penny_line = next(e for e in closed if e.get("conversation_ids") == [conv] and e["role"] == "customer")
    assert penny_line["customer_id"] and penny_line["code"] == 1000 and "agent_id" not in penny_line
    agent_line = next(e for e in closed if e["role"] == "agent")
    assert agent_line["agent_id"] and agent_line["conversation_ids"] == [conv]
    anon_line = next(e for e in closed if e["role"] == "customer" and e is not penny_line)
    assert anon_line["customer_id"] != penny_line["customer_id"] and anon_line["conversation_ids"] == []
    for e in opened:
        assert by_connection[e["connection_id"]].get("customer_id") == e.get("customer_id")
        assert by_connection[e["connection_id"]].get("agent_id") == e.get("agent_id")

    # REST lines carry the request's id (the proxy's, when it sent one) and the caller's.
    access = [e for e in entries if e["logger"] == "uvicorn.access" and e.get("path") == "/api/v1/api-keys"]
    assert access and access[0]["request_id"] == "req-from-the-proxy-1" and access[0]["agent_id"]
    assert access[0]["method"] == "POST" and access[0]["status"] == 201


def test_query_strings_are_cut_from_uvicorns_lines() -> None:
    import logging

    from server.logs import Formatter, WithoutQuery

    access = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "GET", "/mail/unsubscribe?token=s3cr3t", "1.1", 200), None)
    socket = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, '%s - "WebSocket %s" [accepted]',
                               ("1.2.3.4:5", "/ws/widget?token=s3cr3t"), None)
    for record in (access, socket):
        assert WithoutQuery().filter(record)
        line = json.loads(Formatter("json").format(record))
        assert "s3cr3t" not in json.dumps(line)
    assert json.loads(Formatter("json").format(access))["path"] == "/mail/unsubscribe"
    assert "/ws/widget" in Formatter("text").format(socket)
