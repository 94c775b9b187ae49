"""Where a browser request comes from: the one origin check of REST (CSRF) and WebSocket handshakes (CSWSH).

A page can make a browser send our cookie from another site (SameSite=Lax stops only some of
that) or from a sibling subdomain (same-site: SameSite stops nothing). The defence is the same
for both transports: the browser's `Origin` (and `Sec-Fetch-Site`, which a page cannot forge)
must be ours, or one of the shop's origins where the endpoint allows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit


def _host_of(origin: str) -> str:
    parts = urlsplit(origin)
    return parts.netloc.lower() if parts.scheme in ("http", "https") else ""


def is_own(origin: str, host: str, public_url: str | None) -> bool:
    """`origin` is this server's: the host the browser asked for (its Host header) or the public URL.

    The host is compared, not the scheme: behind a TLS proxy the connection is http while the
    page is https, and a sibling site differs in its host either way.
    """
    origin = origin.rstrip("/")
    if public_url and origin == public_url.rstrip("/"):
        return True
    return bool(host) and _host_of(origin) == host.lower()


def origin_allowed(headers: Mapping[str, str], public_url: str | None, also: Iterable[str] = ()) -> bool:
    """May a browser request with these headers act here? Exact matches only: no wildcard,
    prefix or substring (GHSA-f53g-frr2-jhpf).

    With no `Origin` and no `Sec-Fetch-Site` the client is not a browser (a shop's back end, a
    test, curl): browsers send `Origin` on every WebSocket handshake and every POST, PUT,
    PATCH and DELETE, so a hostile page cannot leave it out.
    """
    origin = headers.get("origin")
    site = headers.get("sec-fetch-site")
    if origin is None or origin == "null":
        return origin is None and site in (None, "same-origin", "none")
    if is_own(origin, headers.get("host", ""), public_url):
        return site in (None, "same-origin", "none")
    return origin.rstrip("/") in also
