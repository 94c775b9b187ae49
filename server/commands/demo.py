"""`rapport demo` and the start of `rapport serve`: the URLs a browser should open, the shop secret, a sample token.

The base URL is RAPPORT_PUBLIC_URL when set (what customers reach); else the address the last
`rapport serve` on this database listened on (it records it, so `rapport serve --port 9000`
then `rapport demo` agree); else HOST and PORT from the settings.
"""

from __future__ import annotations

import time

import jwt

from server.settings import Settings
from server.store import Database

# Where `rapport serve` records the address it listens on, in the database's meta table.
SERVED_URL = "served_url"


def base_url(host: str, port: int) -> str:
    """The URL of a server listening on host:port, as a browser on this machine opens it."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - every interface: this machine is one of them
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def pages(base: str, settings: Settings) -> list[tuple[str, str]]:
    """(what, URL) of the pages to open."""
    base = base.rstrip("/")
    return [
        ("demo shop page", f"{base}/"),
        (f"agent console (first admin: {settings.admin_email})", f"{base}/console"),
    ]


async def remember(settings: Settings, url: str) -> None:
    """Record the address `rapport serve` listens on, for a later `rapport demo`."""
    db = Database(settings.database_path)
    await db.open()
    try:
        await db.set_meta(SERVED_URL, url)
    finally:
        await db.close()


async def run(settings: Settings, host: str | None, port: int | None) -> int:
    db = Database(settings.database_path)
    await db.open()
    try:
        secret = settings.shop_secret or await db.get_meta("shop_secret")
        served = await db.get_meta(SERVED_URL)
    finally:
        await db.close()
    if settings.public_url:
        base = settings.public_url
    elif host is not None or port is not None or served is None:
        base = base_url(host or settings.host, port or settings.port)
    else:
        base = served
    for what, url in pages(base, settings):
        print(f"{what}: {url}")
    if secret:
        token = jwt.encode({"sub": "demo-customer-1", "exp": int(time.time()) + 3600}, secret, algorithm="HS256")
        print(f"shop secret: {secret}\nsample customer JWT (1 h): {token}")
    else:
        print("start the server once (rapport serve) to generate the shop secret")
    return 0
