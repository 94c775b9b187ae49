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

The fence: all of this leans on uvicorn's private protocol class, about fifteen of its attributes
and the way its own methods use them, which any uvicorn release may change. `lean_path_refused()`
checks once, at start, that the installed uvicorn and websockets still have what this module
relies on, and `rapport serve` (`server/cli.py: uvicorn_config_kwargs`) uses this protocol only
if they do and `RAPPORT_LEAN_WEBSOCKETS` is on; otherwise uvicorn's own `websockets-sansio`,
with one warning that says why. The check reads the source of the methods uvicorn's class runs
(with `ast`) instead of building a protocol, which would need a loaded Config (so the app) and
an event loop: which attributes `__init__` and `handle_connect` set; which methods uvicorn calls
on the queue and the write flag replaced here (each must be one the stand-in has); that pausing
and resuming writes go through that flag (direct writes rely on it for backpressure); that the
app is looked up per connection, when `handle_connect` is called with the request. If something
slips past it anyway, an AttributeError in this class's connect-time overrides, or a method
uvicorn asks of a stand-in that it lacks, is logged once as an error and turns the lean path off
for every later connection of the process (uvicorn's own objects and route), instead of failing
each one.
"""

from __future__ import annotations

import ast
import asyncio
import collections
import dataclasses
import functools
import inspect
import logging
import textwrap
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from types import FunctionType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, cast
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.websockets import WebSocket
from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from websockets.datastructures import Headers
from websockets.exceptions import InvalidState
from websockets.http11 import Request

_UNIMPORTABLE: str | None = None
if TYPE_CHECKING:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
else:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError as exc:
        # This module stays importable (ws/connection.py reads SEND_NOW); the lean path is refused at start.
        _UNIMPORTABLE = f"uvicorn's websockets-sansio protocol cannot be imported ({exc})"
        WebSocketsSansIOProtocol = asyncio.Protocol

log = logging.getLogger("rapport.transport")

SEND_NOW = "rapport.send_now"
# The connection's transport's abort(): a client that stopped reading holds a full TCP window,
# so a close (which flushes first) would never finish; ws/connection.py aborts such a socket.
ABORT = "rapport.abort"

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

    def __getattr__(self, name: str) -> NoReturn:
        _lacks("queue", name)


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

    def __getattr__(self, name: str) -> NoReturn:
        _lacks("writable", name)


def _lacks(attribute: str, name: str) -> NoReturn:
    """Called only for a name a stand-in lacks: a uvicorn that uses more of asyncio.Queue or
    asyncio.Event than lean_path_refused() saw. This connection's call fails; later ones get
    uvicorn's own objects."""
    if not name.startswith("__"):  # copy, pickle and friends probing for dunders: not uvicorn
        _drifted(f"uvicorn used {attribute}.{name}, which the lean stand-in lacks", AttributeError(name))
    raise AttributeError(name)


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    # Why the overrides stopped (None while they run): set once by _drifted(), after which every
    # new connection runs uvicorn's own code and objects, unchanged.
    drifted: ClassVar[str | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if DirectWebSocketProtocol.drifted is None:
            self.queue = cast(Any, _Received())
            self.writable = cast(Any, _Flag())
            self.writable.set()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and DirectWebSocketProtocol.drifted is None:
            try:
                if self.handshake_complete and self.request is not None:
                    # The handshake is answered: its request and response (and their headers)
                    # go. The request is emptied too: websockets' parser keeps a reference to it
                    # for the connection's life (the scope has its own copy of the headers).
                    self.request.headers.clear()
                    self.request = self.response = cast(Any, None)
            except AttributeError as exc:
                _drifted("letting the handshake go", exc)

    def handle_connect(self, event: Request) -> None:
        # Before uvicorn builds the scope and creates the task that calls `self.app`, with the
        # path as it will put it in the scope; uvicorn's error and close handling stay.
        if DirectWebSocketProtocol.drifted is None:
            try:
                start = _lean_routes(self.config).get(unquote(event.path.partition("?")[0]))
            except AttributeError as exc:
                _drifted("finding the session's route", exc)
                start = None
            if start is not None:
                self.app = start
        super().handle_connect(event)
        if DirectWebSocketProtocol.drifted is None:
            try:
                if self.handshake_initiated and not self.close_sent:
                    # ASGI types extensions as dicts of dicts; this one is a callable, read by our code only.
                    extensions = cast(dict[str, Any], self.scope).setdefault("extensions", {})
                    extensions[SEND_NOW] = self.send_now
                    extensions[ABORT] = self.transport.abort
            except AttributeError as exc:
                _drifted("offering direct writes", exc)

    def shutdown(self) -> None:
        """uvicorn's shutdown (close 1012, then close the transport once flushed), and for a
        client that has stopped reading, an abort a moment later: its full TCP window would
        hold the close frame, and the whole server's graceful shutdown with it, until the
        timeout. It loses nothing: it resumes from its cursors when it reconnects."""
        super().shutdown()
        transport = getattr(self, "transport", None)
        if transport is not None and transport.get_write_buffer_size() > 0:
            asyncio.get_running_loop().call_later(SHUTDOWN_FLUSH, _abort_if_open, transport)

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


# Seconds a closing client that is not reading gets to take its close frame at shutdown.
SHUTDOWN_FLUSH = 1.0


def _abort_if_open(transport: asyncio.Transport) -> None:
    if not transport.is_closing() or transport.get_write_buffer_size() > 0:
        transport.abort()


def _drifted(where: str, exc: BaseException) -> None:
    """The lean path met a uvicorn it does not fit although lean_path_refused() passed it: said
    once, as an error (a defect of that check), and every later connection takes uvicorn's own
    path; the current one goes on without what failed."""
    if DirectWebSocketProtocol.drifted is not None:
        return
    DirectWebSocketProtocol.drifted = f"{where}: {exc!r}"
    log.error(
        "the lean WebSocket path does not fit this uvicorn (%s); new connections take uvicorn's own path",
        DirectWebSocketProtocol.drifted,
        exc_info=exc,
    )


# ---------------------------------------------------------------- the fence

# What this module relies on from uvicorn's WebSocketsSansIOProtocol, besides the checks in
# _protocol_drift(): attributes its __init__ sets, attributes its handle_connect sets, and the
# parameters of the methods overridden here.
_SET_BY_INIT = (
    "config",
    "app",
    "queue",
    "writable",
    "conn",
    "transport",
    "handshake_initiated",
    "handshake_complete",
    "close_sent",
    "disconnected",
    "initial_response",
)
_SET_BY_CONNECT = ("request", "response", "scope")
_OVERRIDDEN = {"handle_connect": ["self", "event"], "send": ["self", "message"]}
# What _lean_routes() reads of uvicorn's Config.
_CONFIG_ATTRIBUTES = ("loaded_app", "proxy_headers", "forwarded_allow_ips")

_Function = ast.FunctionDef | ast.AsyncFunctionDef


@functools.cache
def lean_path_refused() -> str | None:
    """Why DirectWebSocketProtocol cannot run on the installed uvicorn and websockets, or None.

    Run once per process, at start (`server/cli.py: uvicorn_config_kwargs`), and cached: reading
    uvicorn's source takes some tens of milliseconds. Never raises: what it cannot check, it refuses
    (a uvicorn installed without its .py sources, say).
    """
    if _UNIMPORTABLE is not None:
        return _UNIMPORTABLE
    try:
        problems = [*_protocol_drift(WebSocketsSansIOProtocol), *_library_drift()]
    except Exception as exc:  # no .py sources shipped, or source this check cannot read
        return f"uvicorn's protocol cannot be checked ({type(exc).__name__}: {exc})"
    return "; ".join(problems) or None


def _protocol_drift(base: type) -> Iterator[str]:
    """What uvicorn's protocol class no longer does the way this module relies on."""
    methods = _methods(base)
    name = base.__name__
    for method, params in _OVERRIDDEN.items():
        if method not in methods:
            yield f"{name}.{method} is gone"
        elif _params(methods[method][0]) != params:
            yield f"{name}.{method} takes ({', '.join(_params(methods[method][0]))}), not ({', '.join(params)})"
    for method, attributes in (("__init__", _SET_BY_INIT), ("handle_connect", _SET_BY_CONNECT)):
        stored = set().union(*(_stored(node) for node in methods.get(method, ())))
        for attribute in attributes:
            if attribute not in stored:
                yield f"{name}.{method} no longer sets self.{attribute}"
    for attribute, stand_in in (("queue", _Received), ("writable", _Flag)):
        offered = {n for n in vars(stand_in) if not n.startswith("_")}
        for method, chain in sorted(methods.items()):
            for used in sorted(set().union(*(_used_on(node, attribute) for node in chain)), key=str):
                if used is None:
                    yield f"{name}.{method} uses self.{attribute} other than by calling its methods"
                elif used not in offered:
                    yield f"{name}.{method} calls self.{attribute}.{used}, which {stand_in.__name__} lacks"
    # Direct writes ask the flag whether the transport is backed up: uvicorn must keep it current.
    for method, call in (("pause_writing", "clear"), ("resume_writing", "set")):
        if not any(call in _used_on(node, "writable") for node in methods.get(method, ())):
            yield f"{name}.{method} no longer calls self.writable.{call}()"
    nodes = [(method, node) for method, chain in methods.items() for node in chain]
    if not any(_calls_self(node, "handle_connect") for _, node in nodes):
        yield f"{name} no longer calls self.handle_connect with the request"
    if not any("app" in _read(node) for method, node in nodes if method != "__init__"):
        yield f"{name} no longer reads self.app when a connection starts"
    # self.conn is websockets' sans-I/O ServerProtocol: send_now writes through it.
    conn_class = None
    for function, node in _definitions(base, "__init__"):
        made = _made_by(node, "conn")
        if made is not None:
            conn_class = function.__globals__.get(made)
            break
    if conn_class is None:
        yield f"{name}.__init__ no longer makes self.conn with a class this check can see"
    else:
        for method in ("send_text", "data_to_send"):
            if not callable(getattr(conn_class, method, None)):
                yield f"self.conn ({conn_class.__name__}) has no {method}()"


def _library_drift() -> Iterator[str]:
    """What the rest of uvicorn and websockets no longer have."""
    fields = {f.name for f in dataclasses.fields(Request)} if dataclasses.is_dataclass(Request) else set()
    for field in ("path", "headers"):
        if field not in fields:
            yield f"websockets' Request has no {field}"
    if not callable(getattr(Headers, "clear", None)):
        yield "websockets' Headers has no clear()"
    stored = set().union(*(_stored(node) for chain in _methods(Config).values() for node in chain))
    for attribute in _CONFIG_ATTRIBUTES:
        if attribute not in stored:
            yield f"uvicorn's Config no longer sets {attribute}"
    if "trusted_hosts" not in inspect.signature(ProxyHeadersMiddleware).parameters:
        yield "uvicorn's ProxyHeadersMiddleware takes no trusted_hosts"
    if not inspect.iscoroutinefunction(ProxyHeadersMiddleware.__call__):
        yield "uvicorn's ProxyHeadersMiddleware is no longer called as a coroutine"


def _methods(cls: type) -> dict[str, list[_Function]]:
    """The methods an instance of `cls` runs, parsed from their source: for each name the most
    derived definition, and those it reaches through `super().<name>(...)`."""
    names = {n for klass in cls.__mro__ for n in vars(klass)}
    return {name: [node for _, node in chain] for name in names if (chain := _definitions(cls, name))}


def _definitions(cls: type, name: str) -> list[tuple[FunctionType, _Function]]:
    """One method's chain of definitions: each function with its parsed source. asyncio.Protocol's
    own are left out, so its no-op `pause_writing` cannot stand in for one uvicorn dropped."""
    skip = set(asyncio.Protocol.__mro__)
    chain: list[tuple[FunctionType, _Function]] = []
    for klass in cls.__mro__:
        if name not in vars(klass):
            continue
        member = vars(klass)[name]
        if klass in skip or not inspect.isfunction(member):
            break
        node = ast.parse(textwrap.dedent(inspect.getsource(member))).body[0]
        if not isinstance(node, _Function):
            break
        chain.append((member, node))
        if not _calls_super(node, name):
            break
    return chain


def _calls_super(node: _Function, method: str) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == method
        and isinstance(n.func.value, ast.Call)
        and isinstance(n.func.value.func, ast.Name)
        and n.func.value.func.id == "super"
        for n in ast.walk(node)
    )


def _params(node: _Function) -> list[str]:
    return [a.arg for a in (*node.args.posonlyargs, *node.args.args)]


def _is_self(node: ast.AST, attribute: str | None = None, ctx: type[ast.expr_context] = ast.expr_context) -> bool:
    """`self.<attribute>` (any attribute if None), in that context (Load, Store)."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and (attribute is None or node.attr == attribute)
        and isinstance(node.ctx, ctx)
    )


def _stored(node: _Function) -> set[str]:
    """Attributes of self the function assigns."""
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and _is_self(n, ctx=ast.Store)}


def _read(node: _Function) -> set[str]:
    """Attributes of self the function reads."""
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and _is_self(n, ctx=ast.Load)}


def _used_on(node: _Function, attribute: str) -> set[str | None]:
    """What the function reads of `self.<attribute>`; None if it uses the object itself (passes it
    on, tests its truth), which this check cannot follow."""
    used: set[str | None] = set()
    reached: set[int] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and _is_self(n.value, attribute):
            used.add(n.attr)
            reached.add(id(n.value))
    if any(_is_self(n, attribute, ast.Load) and id(n) not in reached for n in ast.walk(node)):
        used.add(None)
    return used


def _calls_self(node: _Function, method: str) -> bool:
    return any(isinstance(n, ast.Call) and _is_self(n.func, method) for n in ast.walk(node))


def _made_by(node: _Function, attribute: str) -> str | None:
    """The name of the class `self.<attribute> = Name(...)` calls in the function, if it does."""
    for n in ast.walk(node):
        if isinstance(n, ast.Assign | ast.AnnAssign):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            call = n.value
            if any(_is_self(t, attribute) for t in targets) and isinstance(call, ast.Call):
                return call.func.id if isinstance(call.func, ast.Name) else None
    return None
