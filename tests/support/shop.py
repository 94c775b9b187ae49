"""The shop's side in tests: its back end calling the API with a key, its customers' browsers."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from tests.support.client import WsClient
from tests.support.live import Server

SHOP_SECRET = "test-shop-secret-0123456789abcdef"


def customer_token(user_id: str, *, ttl: float = 3600, secret: str = SHOP_SECRET) -> str:
    return jwt.encode({"sub": user_id, "exp": int(time.time() + ttl)}, secret, algorithm="HS256")


class Shop:
    """An API client holding a key with every scope."""

    def __init__(self, server: Server, token: str, *, browsers: list[Server] | None = None) -> None:
        self.server = server
        self.http = httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        # The servers customers' browsers connect to, in turn (the API is always on `server`).
        self.browsers = browsers or [server]
        self._opened = 0

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, expect: int | None = None, **kwargs: Any) -> Any:
        r = await self.http.request(method, path, **kwargs)
        if expect is not None:
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content and r.headers.get("content-type", "").endswith("json") else r

    async def customer(self, external_id: str, **fields: Any) -> dict[str, Any]:
        fields.setdefault("marketing_consent", True)
        result: dict[str, Any] = await self.call("PUT", f"/api/v1/customers/{external_id}", 200, json=fields)
        return result

    async def campaign(self, send: bool = True, **fields: Any) -> dict[str, Any]:
        fields.setdefault("name", "Test campaign")
        fields.setdefault("kind", "offer")
        fields.setdefault("audience", {"type": "all"})
        fields.setdefault("title", "Hello {{ customer.first_name }}")
        fields.setdefault("body", "You have {{ customer.loyalty_points }} points")
        created: dict[str, Any] = await self.call("POST", "/api/v1/campaigns", 201, json=fields)
        if send:
            return dict(await self.call("POST", f"/api/v1/campaigns/{created['id']}/send", 200, json={}))
        return created

    async def browser(self, external_id: str, **hello: Any) -> WsClient:
        server = self.browsers[self._opened % len(self.browsers)]
        self._opened += 1
        return await browser(server, external_id, **hello)


async def browser(server: Server, external_id: str, **hello: Any) -> WsClient:
    """The customer's widget, logged in: hello with a shop-signed JWT; waits for the inbox replay."""
    client = await WsClient.connect(f"{server.ws}/ws/widget")
    await client.hello(identity={"user_id": external_id, "token": customer_token(external_id)}, **hello)
    await client.wait_type("inbox.resumed")
    return client


def notifications(client: WsClient, kind: str | None = None) -> list[dict[str, Any]]:
    found = []
    for frame in client.frames:
        if frame["type"] == "notification" and kind in (None, frame["kind"]):
            found.append(frame)
        elif frame["type"] == "inbox.reset":
            found = [n for n in frame["notifications"] if kind in (None, n["kind"])]
    return found
