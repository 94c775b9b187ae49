"""create_app(settings): the routes, the error mapping and the lifespan that wires the parts."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute

from server import cached_files, logs
from server.api import routes as api
from server.api.edge import problem_response
from server.api.headers import SecurityHeaders
from server.api.metrics import metrics_endpoint
from server.api.static_files import WidgetFiles
from server.api.widget_config import widget_config
from server.cached_files import CachedStaticFiles
from server.compression import Compression
from server.errors import Problem
from server.node import Node
from server.protocol import ErrorCode
from server.settings import Settings
from server.ws.agent import agent_endpoint
from server.ws.widget import widget_endpoint

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("rapport")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    logs.configure(settings)
    node = Node(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await node.open()
        log.info(
            "rapport ready (store %s, broker %s)",
            settings.database_path,
            "redis" if settings.redis_url else "in-process",
        )
        try:
            yield
        finally:
            await node.close()

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)  # noqa: S101 - registered for Problem only
        return problem_response(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # noqa: S101
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.INVALID_REQUEST}.get(
            exc.status_code, ErrorCode.INVALID_REQUEST
        )
        return problem_response(Problem(code, str(exc.detail)), exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return problem_response(Problem(ErrorCode.INTERNAL, "internal error"))

    def page(path: Path) -> Route:
        async def endpoint(request: Request) -> Response:
            return cached_files.page(path)

        return Route("/" if path.parent.name == "demo" else "/console", endpoint)

    widget_files = WidgetFiles(ROOT / "static", widget_config(settings))
    routes = [
        *api.routes(),
        *widget_files.routes(),
        WebSocketRoute("/ws/widget", widget_endpoint),
        WebSocketRoute("/ws/agent", agent_endpoint),
        Route("/metrics", metrics_endpoint),
        page(ROOT / "static" / "demo" / "index.html"),
        page(ROOT / "agent_console" / "index.html"),
        Mount("/console", CachedStaticFiles(directory=ROOT / "agent_console", check_dir=False), name="console"),
        Mount("/static", CachedStaticFiles(directory=ROOT / "static", check_dir=False), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # Compression outside the security headers: it sees the finished response.
        middleware=[Middleware(Compression), Middleware(SecurityHeaders)],
        exception_handlers={Problem: problem, HTTPException: http_error, Exception: server_error},
    )
    # A redirect to the path with or without its trailing slash would be built from the Host
    # header, which the client chooses (a redirect to anywhere): a wrong path is a 404 instead.
    app.router.redirect_slashes = False
    app.state.node = node
    app.state.openapi = api.document()
    # Served without the middleware and router by `rapport serve` (ws/transport.py); the routes
    # above stay for any other server.
    app.state.websocket_routes = {"/ws/widget": widget_endpoint, "/ws/agent": agent_endpoint}
    return app
