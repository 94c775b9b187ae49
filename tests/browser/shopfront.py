"""What the widget's browser tests share: the two screens a shopper uses, a real agent socket and
the shop's REST calls (made as the admin, synchronously, beside Playwright's sync API)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page
from websockets.sync.client import ClientConnection, connect

from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, ProcessServer
from tests.support.shop import customer_token

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# The shopper's two screens: a desktop, and a phone (375x812, touch, as a phone lays pages out).
SCREENS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1200, "height": 800}},
    "phone": {
        "viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2,
    },
}


def shopper(browser: Browser, screen: str, **extra: Any) -> BrowserContext:
    return browser.new_context(**SCREENS[screen], **extra)


def watch_errors(page: Page, errors: list[str]) -> Page:
    """Script errors, errors logged, and failed requests (but the favicon the demo page lacks)."""
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    return page


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def log_in_as(page: Page, user_id: str) -> None:
    """The shop's page for a logged-in customer: its snippet calls setUser with a JWT it signed."""
    token = customer_token(user_id)
    page.add_init_script(
        "window.Rapport = window.Rapport || function () { (Rapport.q = Rapport.q || []).push(arguments); };"
        f"Rapport('setUser', {json.dumps({'user_id': user_id, 'token': token})});"
    )


class Admin:
    """The shop's back end and the console's REST calls, as the admin (session cookie, own origin)."""

    def __init__(self, server: ProcessServer) -> None:
        self.http = httpx.Client(base_url=server.base, headers={"Origin": server.base}, timeout=10)
        r = self.http.post("/api/v1/session", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        r.raise_for_status()
        self.cookie = r.cookies["rapport_session"]

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        r = self.http.request(method, path, **kwargs)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def campaign(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("name", "Test")
        fields.setdefault("audience", {"type": "all"})
        created = self.call("POST", "/api/v1/campaigns", 201, json=fields)
        return dict(self.call("POST", f"/api/v1/campaigns/{created['id']}/send", json={}))

    def close(self) -> None:
        self.http.close()


class Agent:
    """An agent's real socket (the console's protocol), synchronous."""

    def __init__(self, server: ProcessServer, cookie: str) -> None:
        self.ws: ClientConnection = connect(
            f"{server.ws}/ws/agent", additional_headers={"Cookie": f"rapport_session={cookie}"},
            origin=server.base, compression=None,  # type: ignore[arg-type]
        ).__enter__()
        self.frames: list[dict[str, Any]] = []
        self.send(type="hello")
        self.welcome = self.wait(lambda f: f["type"] == "welcome")

    def send(self, **frame: Any) -> None:
        self.ws.send(json.dumps(frame))

    def wait(self, match: Any, timeout: float = 10) -> dict[str, Any]:
        for frame in self.frames:
            if match(frame):
                self.frames.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if match(frame):
                return frame
            self.frames.append(frame)
        raise TimeoutError("no matching frame")

    def waiting(self, timeout: float = 10) -> str:
        """The id of the first conversation that enters the queue."""
        queue = self.wait(lambda f: f["type"] == "queue" and f["waiting"], timeout)
        return str(queue["waiting"][0]["id"])

    def act(self, **frame: Any) -> dict[str, Any]:
        client_id = uuid.uuid4().hex
        self.send(client_id=client_id, **frame)
        answer = self.wait(lambda f: f.get("client_id") == client_id and f["type"] in ("ack", "error"))
        assert answer["type"] == "ack", answer
        return answer

    def say(self, conversation_id: str, text: str) -> dict[str, Any]:
        return self.act(type="message.send", conversation_id=conversation_id, text=text)

    def close(self) -> None:
        self.ws.close()
