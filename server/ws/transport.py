"""uvicorn's WebSocket protocol plus two things: a lean route to the sessions, and direct writes.

The lean route: a Starlette app reaches a WebSocket endpoint through its middleware and router,
about ten coroutines and their closures, which each connection keeps for its whole life. With
10k idle sockets that is a fifth of the process's memory and 40% of the objects Python's cycle
collector walks on every full collection (bench/README.md). For the paths the app lists in
`app.state.websocket_routes`, this protocol calls the endpoint directly, behind uvicorn's
proxy-headers middleware only (client address and scheme as configured). Everything else,
and every other server, still goes through the app.

Lean state: uvicorn gives each connection an asyncio.Queue (three deques, ~2.3 KiB) for what
the client sends and an asyncio.Event (a deque) for write pressure, and keeps the handshake
request and response (their headers, ~2 KiB) for the connection's life. Here the queue and the
flag allocate only while something waits in them, and the handshake is let go once answered.

Direct writes: the hub can write a text frame to the socket at once.

Through ASGI, every frame to every recipient costs a trip through Starlette's and uvicorn's send
coroutines and a wake-up of the connection's writer task: in a broadcast that was a third of the
event loop's time (bench/README.md). This protocol puts a synchronous `send_now(text) -> bool`
in the scope's extensions; `ws/connection.py` uses it while the connection has no backlog and
the transport is below its high-water mark, and otherwise queues as before, so order,
backpressure and the slow-consumer rule are unchanged. Any other server (or this one in a test
client) simply lacks the extension and every frame takes the ASGI path.
"""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, cast

from starlette.applications import Starlette
from starlette.websockets import WebSocket
from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

SEND_NOW = "rapport.send_now"

Endpoint = Callable[[WebSocket], Awaitable[None]]
Asgi = Callable[..., Awaitable[None]]
# Per uvicorn Config (one per server): path -> the lean ASGI callable for that endpoint.
_lean: weakref.WeakKeyDictionary[Config, dict[str, Asgi]] = weakref.WeakKeyDictionary()


def _lean_routes(config: Config) -> dict[str, Asgi]:
    found = _lean.get(config)
    if found is not None:
        return found
    app: Any = config.loaded_app
    while not isinstance(app, Starlette) and hasattr(app, "app"):  # uvicorn's wrappers
        app = app.app
    routes: dict[str, Endpoint] = getattr(app.state, "websocket_routes", {}) if isinstance(app, Starlette) else {}
    found = {path: _asgi(endpoint, app, config) for path, endpoint in routes.items()}
    _lean[config] = found
    return found


def _asgi(endpoint: Endpoint, app: Starlette, config: Config) -> Asgi:
    async def call(scope: Any, receive: Any, send: Any) -> None:
        scope["app"] = app  # what the endpoint reads its node from, as through the router
        await endpoint(WebSocket(scope, receive, send))

    if config.proxy_headers:
        return ProxyHeadersMiddleware(call, trusted_hosts=config.forwarded_allow_ips)
    return call


class _Received:
    """The part of asyncio.Queue uvicorn uses (`put_nowait`, `get`, `empty`), one consumer (the
    ASGI receive), holding a deque only while items wait."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: collections.deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = collections.deque()
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    def empty(self) -> bool:
        return not self._items


class _Flag:
    """The part of asyncio.Event uvicorn uses for `writable`, with waiters only while there are some."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = cast(Any, _Received())
        self.writable = cast(Any, _Flag())
        self.writable.set()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The handshake is answered: its request and response (and their headers) go.
            self.request = self.response = cast(Any, None)

    async def run_asgi(self) -> None:
        lean = _lean_routes(self.config).get(self.scope["path"])
        if lean is not None:
            self.app = lean  # uvicorn's run_asgi calls self.app; its error and close handling stay
        await super().run_asgi()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.handshake_initiated and not self.close_sent:
            # ASGI types extensions as dicts of dicts; this one is a callable, read by our code only.
            cast(dict[str, Any], self.scope["extensions"])[SEND_NOW] = self.send_now

    def send_now(self, text: str) -> bool:
        """Write one text frame now if the socket is open and not backed up; else False."""
        if (
            self.disconnected
            or self.close_sent
            or not self.handshake_complete
            or self.initial_response is not None
            or not self.writable.is_set()
        ):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True
