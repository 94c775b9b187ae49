"""Origin checks for WebSocket handshakes: the defence against cross-site WebSocket hijacking."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def own_origin(headers: Mapping[str, str], scheme: str) -> str:
    """This server's origin as the browser sees it (Host header; scheme from the connection)."""
    host = headers.get("host", "")
    web_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return f"{web_scheme}://{host}"


def origin_allowed(origin: str | None, own: str, allowed: Iterable[str]) -> bool:
    """Exact match only: no wildcards, no prefix or substring tricks (GHSA-f53g-frr2-jhpf).

    A missing Origin means a non-browser client (a shop back end, a load test); browsers always
    send one on WebSocket handshakes, so a hijacking page cannot omit it.
    """
    if origin is None:
        return True
    origin = origin.rstrip("/")
    return origin == own or origin in allowed
