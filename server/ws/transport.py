"""uvicorn's WebSocket protocol made lean: a short route to the sessions, lean state, direct writes.

The lean route: a Starlette app reaches a WebSocket endpoint through its middleware and router,
about ten coroutines and their closures, which each connection keeps for its whole life. With
10k idle sockets that is a fifth of the process's memory and 40% of the objects Python's cycle
collector walks on every full collection (bench/README.md). For the paths the app lists in
`app.state.websocket_routes`, this protocol calls the endpoint directly, after applying
uvicorn's proxy-headers rewrite of the scope (client address and scheme, as configured) once;
what uvicorn awaits for the connection's life is the session's own coroutine. Everything
else, and every other server, still goes through the app.

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
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.websockets import WebSocket
from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

SEND_NOW = "rapport.send_now"

Endpoint = Callable[[WebSocket], Awaitable[None]]
Start = Callable[[Any, Any, Any], Awaitable[None]]
# Per uvicorn Config (one per server): path -> how a session on that path starts.
_lean: weakref.WeakKeyDictionary[Config, dict[str, Start]] = weakref.WeakKeyDictionary()


def _lean_routes(config: Config) -> dict[str, Start]:
    found = _lean.get(config)
    if found is not None:
        return found
    app: Any = config.loaded_app
    while not isinstance(app, Starlette) and hasattr(app, "app"):  # uvicorn's wrappers
        app = app.app
    routes: dict[str, Endpoint] = getattr(app.state, "websocket_routes", {}) if isinstance(app, Starlette) else {}
    proxy = ProxyHeadersMiddleware(_nothing, trusted_hosts=config.forwarded_allow_ips) if config.proxy_headers else None
    found = {path: _starter(endpoint, app, proxy) for path, endpoint in routes.items()}
    _lean[config] = found
    return found


def _starter(endpoint: Endpoint, app: Starlette, proxy: ProxyHeadersMiddleware | None) -> Start:
    # Not a coroutine function: it returns the endpoint's awaitable (the session's own
    # coroutine), so no frame of ours stays suspended for the connection's whole life.
    def start(scope: Any, receive: Any, send: Any) -> Awaitable[None]:
        if proxy is not None:
            _at_once(proxy(scope, receive, send))  # client address and scheme, rewritten in place
        scope["app"] = app  # what the endpoint reads its node from, as through the router
        return endpoint(WebSocket(scope, receive, send))

    return start


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    return None


def _at_once(step: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never waits (the proxy-headers middleware before `_nothing`)."""
    try:
        step.send(None)
    except StopIteration:
        return
    step.close()
    raise RuntimeError("the proxy-headers middleware waited")


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
        if message["type"] == "websocket.accept" and self.handshake_complete and self.request is not None:
            # The handshake is answered: its request and response (and their headers) go. The
            # request is emptied too: websockets' parser keeps a reference to it for the
            # connection's life (the scope has its own copy of the headers).
            self.request.headers.clear()
            self.request = self.response = cast(Any, None)

    def handle_connect(self, event: Request) -> None:
        # Before uvicorn builds the scope and creates the task that calls `self.app`, with the
        # path as it will put it in the scope; uvicorn's error and close handling stay.
        start = _lean_routes(self.config).get(unquote(event.path.partition("?")[0]))
        if start is not None:
            self.app = start
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
