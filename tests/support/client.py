"""A real WebSocket client for tests that records every frame it receives."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]


class WsClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self._consumed: set[int] = set()
        self.welcome: Frame = {}

    @classmethod
    async def connect(cls, url: str, *, cookie: str | None = None, origin: str | None = None,
                      **kwargs: Any) -> WsClient:
        headers = {"Cookie": f"rapport_session={cookie}"} if cookie else {}
        ws = await connect(url, additional_headers=headers, origin=origin, compression=None,  # type: ignore[arg-type]
                           open_timeout=5, **kwargs)
        return cls(ws)

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def hello(self, **fields: Any) -> Frame:
        await self.send(type="hello", **fields)
        self.welcome = await self.wait_for(lambda f: f["type"] in ("welcome", "error"))
        return self.welcome

    async def recv(self, timeout: float = 5.0) -> Frame:
        frame: Frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.frames.append(frame)
        return frame

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 5.0) -> Frame:
        """The first matching frame not yet returned by a wait; others stay available to later waits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        checked = 0
        while True:
            for index in range(checked, len(self.frames)):
                if index not in self._consumed and predicate(self.frames[index]):
                    self._consumed.add(index)
                    return self.frames[index]
            checked = len(self.frames)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame within {timeout}s; got {self.frames[-5:]}")
            await self.recv(remaining)

    async def wait_type(self, type_: str, timeout: float = 5.0, **match: Any) -> Frame:
        return await self.wait_for(
            lambda f: f["type"] == type_ and all(f.get(k) == v for k, v in match.items()), timeout
        )

    async def quiet(self, seconds: float = 0.3) -> list[Frame]:
        """Collect whatever arrives within `seconds` (to assert that something did NOT arrive)."""
        start = len(self.frames)
        try:
            while True:
                await self.recv(seconds)
        except (TimeoutError, ConnectionClosed):
            pass
        return self.frames[start:]

    async def send_message(self, text: str, conversation_id: str | None = None, **extra: Any) -> Frame:
        client_id = extra.pop("client_id", None) or uuid.uuid4().hex
        frame: dict[str, Any] = {"client_id": client_id, "text": text, **extra}
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        await self.send(type="message.send", **frame)
        return await self.wait_for(
            lambda f: f.get("client_id") == client_id and f["type"] in ("ack", "error")
        )

    def events(self, conversation_id: str, kind: str | None = None) -> list[Frame]:
        out = []
        for f in self.frames:
            if f["type"] == "event" and f["conversation_id"] == conversation_id and kind in (None, f["kind"]):
                out.append(f)
            elif f["type"] == "reset" and f["conversation"]["id"] == conversation_id:
                out = [e for e in f["events"] if kind in (None, e["kind"])]
        return out

    def texts(self, conversation_id: str) -> list[str]:
        return [f["text"] for f in self.events(conversation_id, "message")]

    def last_seq(self, conversation_id: str) -> int:
        seqs = [f["seq"] for f in self.events(conversation_id)]
        return max(seqs, default=0)

    async def closed_with(self, timeout: float = 5.0) -> int | None:
        """Read until the server closes; the close code."""
        try:
            while True:
                await self.recv(timeout)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None

    async def close(self) -> None:
        await self.ws.close()
