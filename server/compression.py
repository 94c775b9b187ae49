"""gzip for HTTP responses (pages, scripts, styles, JSON, metrics), except the widget's own files.

The widget's files under /widget/ are compressed and cached by a module of their own (issue 10),
so they pass through here untouched and nothing is compressed twice. WebSocket handshakes never
come here under `rapport serve` (ws/transport.py answers them) and pass through untouched under
any other server (Starlette's GZipMiddleware handles HTTP only). Small responses (under 500
bytes) and already compressed types go as they are.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# Shorter than this, gzip's header and the CPU cost more than they save.
MINIMUM_SIZE = 500


class Compression:
    """ASGI middleware: Starlette's GZipMiddleware for every HTTP path but those under `skip`."""

    def __init__(self, app: ASGIApp, skip: tuple[str, ...] = ("/widget/", "/static/v/")) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_SIZE)
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope["path"]).startswith(self.skip):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
