"""Point 3: same-site CSRF. A page on a sibling subdomain (same-site: SameSite cookies are sent)
posts `text/plain` (no CORS preflight) with the admin's console cookie; login CSRF too."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from server.api.routes import endpoints
from server.settings import Settings
from tests.security.conftest import EVIL_ORIGIN
from tests.support.client import WsClient
from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, test_settings

OWN_ORIGIN = "https://chat.shop.test"

# What a hostile page can make the browser send without a preflight, and the headers a browser
# adds (Sec-Fetch-Site cannot be set by the page), in the variants old and new browsers produce.
CROSS_SITE: dict[str, dict[str, str]] = {
    "text/plain from a sibling": {"Origin": EVIL_ORIGIN, "Sec-Fetch-Site": "same-site", "Content-Type": "text/plain"},
    "text/plain, Origin only": {"Origin": EVIL_ORIGIN, "Content-Type": "text/plain"},
    "text/plain, Sec-Fetch-Site only": {"Sec-Fetch-Site": "same-site", "Content-Type": "text/plain"},
    "form post from a sibling": {"Origin": EVIL_ORIGIN, "Sec-Fetch-Site": "same-site",
                                 "Content-Type": "application/x-www-form-urlencoded"},
    "JSON from a sibling": {"Origin": EVIL_ORIGIN, "Sec-Fetch-Site": "same-site", "Content-Type": "application/json"},
    "text/plain from a null origin": {"Origin": "null", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
    "text/plain without Origin": {"Content-Type": "text/plain"},
}

BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/orders/events": {
        "customer_id": "victim-1", "order_id": "A-1001", "status": "payment_failed",
        "text": "Payment failed: re-enter your card at https://evil.shop.test/pay",
    },
    "/api/v1/segments": {"name": "csrf segment", "rules": {"field": "loyalty_points", "op": "gte", "value": 0}},
    "/api/v1/campaigns": {"name": "csrf campaign", "kind": "offer", "audience": {"type": "all"},
                          "title": "Free money", "body": "Click here"},
}
TABLES = {"/api/v1/orders/events": "notifications", "/api/v1/segments": "segments", "/api/v1/campaigns": "campaigns"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path, public_url=OWN_ORIGIN)


@pytest.fixture
async def admin(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {token}"}) as shop:
        r = await shop.put("/api/v1/customers/victim-1", json={"name": "Vic Tim", "marketing_consent": True})
        assert r.status_code == 200, r.text
    # A cookie-only client: what the victim's browser holds.
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        http.cookies.set("rapport_session", await server.login())
        yield http


async def count(server: LiveServer, table: str) -> int:
    row = await server.node.db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize("path", list(BODIES))
async def test_a_sibling_page_cannot_post_with_the_admins_cookie(
    server: LiveServer, admin: httpx.AsyncClient, path: str
) -> None:
    before = await count(server, TABLES[path])
    body = json.dumps(BODIES[path]).encode()
    for name, headers in CROSS_SITE.items():
        r = await admin.post(path, content=body, headers=headers)
        assert r.status_code in (403, 415), f"{name}: {r.status_code} {r.text}"
    assert await count(server, TABLES[path]) == before, "a refused request stored something"
    # The console itself, from our own origin with JSON, is served.
    ok = await admin.post(path, json=BODIES[path], headers={"Origin": OWN_ORIGIN, "Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 201, ok.text
    assert await count(server, TABLES[path]) == before + 1


async def test_every_state_changing_route_refuses_a_cross_site_cookie_request(
    server: LiveServer, admin: httpx.AsyncClient
) -> None:
    """Generated from the endpoint registry: a new route is covered without anyone adding it here."""
    checked = 0
    for ep in endpoints():
        if ep.method in ("GET", "HEAD", "OPTIONS"):
            continue
        path = re.sub(r"{(\w+)(?::\w+)?}", "x1", ep.path)
        for name, headers in CROSS_SITE.items():
            if "Origin" not in headers and "Sec-Fetch-Site" not in headers and ep.body is None:
                continue  # no browser marks at all and no body to refuse: a non-browser client
            r = await admin.request(ep.method, path, content=b"{}", headers=headers)
            assert r.status_code in (403, 415), f"{ep.method} {ep.path} ({name}): {r.status_code} {r.text}"
        checked += 1
    assert checked >= 20
    # The admin's session survived every one of them (a cross-site logout was refused too).
    assert (await admin.get("/api/v1/session")).status_code == 200


async def test_login_csrf_is_refused(server: LiveServer) -> None:
    """A hostile page logging the victim's browser into the attacker's account (or anyone's)."""
    credentials = json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).encode()
    async with httpx.AsyncClient(base_url=server.base) as browser:
        for name, headers in CROSS_SITE.items():
            r = await browser.post("/api/v1/session", content=credentials, headers=headers)
            assert r.status_code in (403, 415), f"{name}: {r.status_code} {r.text}"
            assert "rapport_session" not in r.headers.get("set-cookie", ""), name
    assert await server.node.db.fetchone("SELECT 1 FROM agent_sessions") is None


async def test_a_sibling_page_cannot_open_the_agent_socket_with_the_cookie(server: LiveServer) -> None:
    """Cross-site WebSocket hijacking (GHSA-f53g-frr2-jhpf): the handshake from another origin fails."""
    cookie = await server.login()
    for origin in (EVIL_ORIGIN, "https://chat.shop.test.evil.test", "null", "http://127.0.0.1.evil.test"):
        with pytest.raises(InvalidStatus) as refused:
            await WsClient.connect(f"{server.ws}/ws/agent", cookie=cookie, origin=origin)
        assert refused.value.response.status_code == 403, origin
    own = await WsClient.connect(f"{server.ws}/ws/agent", cookie=cookie, origin=OWN_ORIGIN)
    assert (await own.hello())["type"] == "welcome"
    await own.close()
