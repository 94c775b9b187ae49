"""Security headers on every HTTP response: no framing, no sniffing, a strict CSP per kind of page."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The console: our scripts and styles only, no inline script, sockets to ourselves, never framed
# (a same-site page framing the logged-in console was a clickjacking hole).
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self';"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The demo shop page stands for a shop's own page, which has inline snippets of its own.
DEMO_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# JSON, problems and anything else: nothing to run, nothing to frame.
API_CSP = "default-src 'none'; frame-ancestors 'none'"

_COMMON = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
)


def _csp(path: str) -> str:
    if path == "/console" or path.startswith("/console/"):
        return CONSOLE_CSP
    if path == "/":
        return DEMO_CSP
    return API_CSP


class SecurityHeaders:
    """ASGI middleware for HTTP (WebSocket handshakes are answered by the protocol, not here).

    The widget's scripts are loaded by shops' pages on other origins as ES modules, which needs
    CORS (`Access-Control-Allow-Origin: *`: they are public files, sent without credentials)
    and a cross-origin resource policy; nothing else of ours may be read cross-origin.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _COMMON:
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", _csp(path))
                if path.startswith("/widget/"):
                    headers["access-control-allow-origin"] = "*"
                    headers["cross-origin-resource-policy"] = "cross-origin"
                else:
                    headers.setdefault("cross-origin-resource-policy", "same-origin")
                if path.startswith("/api/"):
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)
