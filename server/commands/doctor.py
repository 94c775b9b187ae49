"""`rapport doctor`: checks the settings, the database, Redis, SMTP and the allowed origins, and says what is wrong.

Read-only: it changes no file and no database (a missing database is only reported). Each check
prints one line, `ok`, `warning` (works, but probably not what production wants) or `problem`
(the server will fail or misbehave); the exit status is 1 when any problem was found. Secrets
(passwords in URLs, keys) are never printed.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import smtplib
import sqlite3
import ssl
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.settings import DOCS, Settings, SettingsError
from server.store.db import latest_schema

TIMEOUT = 3.0
# RAPPORT_* variables read beside the table of settings (by the command line and scripts/venv).
KNOWN_ELSEWHERE = {"RAPPORT_AGENT_PASSWORD", "RAPPORT_VENV"}
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class Report:
    def __init__(self) -> None:
        self.problems = 0

    def ok(self, what: str, text: str) -> None:
        print(f"ok       {what}: {text}")

    def warning(self, what: str, text: str) -> None:
        print(f"warning  {what}: {text}")

    def problem(self, what: str, text: str) -> None:
        self.problems += 1
        print(f"problem  {what}: {text}")


def _without_password(url: SplitResult) -> str:
    """The URL as it may be printed: no user name or password."""
    host = url.hostname or ""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{host}{port}{url.path}"


def check_settings(env: Mapping[str, str], report: Report) -> Settings | None:
    known = {var for var, _doc in DOCS.values()}
    for name in sorted(env):
        if name.startswith("RAPPORT_") and name not in known and name not in KNOWN_ELSEWHERE:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            report.warning("settings", f"{name} is not a setting and is ignored{hint}")
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        report.problem("settings", f"{exc}; see docs/settings.md")
        return None
    if settings.log_level.lower() not in LOG_LEVELS:
        report.problem("settings", f"RAPPORT_LOG_LEVEL is {settings.log_level!r}; use one of {', '.join(LOG_LEVELS)}")
    workers = env.get("WEB_CONCURRENCY", "1")
    if not workers.isdigit():
        report.problem("settings", f"WEB_CONCURRENCY is {workers!r}, not a number of worker processes")
    elif int(workers) > 1 and not settings.redis_url:
        report.problem(
            "settings",
            f"WEB_CONCURRENCY is {workers} but REDIS_URL is unset: several workers need Redis to share chats",
        )
    if settings.public_url is None:
        report.warning(
            "settings",
            "RAPPORT_PUBLIC_URL is unset: fine on a laptop; in production set the URL customers reach this server at",
        )
    else:
        url = urlsplit(settings.public_url)
        if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
            report.problem(
                "settings", f"RAPPORT_PUBLIC_URL {settings.public_url!r} is not like https://chat.example.com"
            )
    if settings.metrics_token is None and settings.metrics_port is None:
        report.ok("settings", "read; /metrics is not served (set RAPPORT_METRICS_TOKEN or RAPPORT_METRICS_PORT)")
    else:
        report.ok("settings", "read")
    return settings


def check_database(settings: Settings, report: Report) -> None:
    path = Path(settings.database_path)
    if settings.database_path == ":memory:":
        report.warning("database", "in memory: everything is lost when the server stops")
        return
    if not path.exists():
        parent = path.resolve().parent
        existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
        if existing is None or not os.access(existing, os.W_OK):
            report.problem("database", f"{path} does not exist and {existing or parent} is not writable")
        else:
            report.ok("database", f"{path} will be created at the first start")
        return
    if not os.access(path, os.R_OK | os.W_OK):
        report.problem("database", f"{path} is not readable and writable by this user")
        return
    latest = latest_schema()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=TIMEOUT)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            checked = str(conn.execute("PRAGMA quick_check").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        report.problem("database", f"{path} cannot be read as SQLite: {exc}")
        return
    if checked != "ok":
        report.problem("database", f"{path} is damaged ({checked}); restore a backup (docs/operations.md)")
    elif version > latest:
        report.problem("database", f"{path} is at schema {version}, newer than this release knows ({latest})")
    elif version < latest:
        report.warning(
            "database", f"{path} is at schema {version} of {latest}: `rapport migrate` (or a start) updates it"
        )
    else:
        report.ok("database", f"{path} answers, schema {version} up to date")


async def check_redis(settings: Settings, report: Report) -> None:
    if not settings.redis_url:
        report.ok("redis", "not configured: the in-process broker serves one process")
        return
    url = urlsplit(settings.redis_url)
    if url.scheme not in ("redis", "rediss", "unix"):
        report.problem(
            "redis", f"REDIS_URL must start with redis://, rediss:// or unix:// (it starts with {url.scheme!r})"
        )
        return
    shown = _without_password(url)
    try:
        client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    except ValueError as exc:
        report.problem("redis", f"REDIS_URL cannot be used: {exc}")
        return
    try:
        await asyncio.wait_for(client.ping(), TIMEOUT * 2)
    except (RedisError, OSError, TimeoutError) as exc:
        why = str(exc) or type(exc).__name__
        report.problem("redis", f"cannot reach Redis at {shown}: {why} (is Redis running there? is REDIS_URL right?)")
        return
    finally:
        await client.aclose()
    report.ok("redis", f"{shown} answers")


def check_smtp(smtp_url: str | None, report: Report) -> None:
    if not smtp_url:
        report.ok("smtp", "not configured (SMTP_URL): e-mail is not sent")
        return
    url = urlsplit(smtp_url)
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        report.problem("smtp", "SMTP_URL must look like smtp://user:password@host:587 (or smtps:// for port 465)")
        return
    try:
        port = url.port or (465 if url.scheme == "smtps" else 587)
    except ValueError:
        report.problem("smtp", "SMTP_URL has a port that is not a number")
        return
    shown = _without_password(url)
    try:
        if url.scheme == "smtps":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                url.hostname, port, timeout=TIMEOUT, context=ssl.create_default_context()
            )
        else:
            server = smtplib.SMTP(url.hostname, port, timeout=TIMEOUT)
        try:
            code, _banner = server.ehlo()
        finally:
            server.close()
    except (OSError, smtplib.SMTPException) as exc:
        report.problem("smtp", f"cannot reach the mail server at {shown}: {exc or type(exc).__name__}")
        return
    if code != 250:
        report.problem("smtp", f"the mail server at {shown} answered EHLO with {code}")
    else:
        report.ok("smtp", f"{shown} answers (sending is not tried)")


def check_origins(settings: Settings, report: Report) -> None:
    if not settings.allowed_origins:
        report.warning(
            "origins",
            "RAPPORT_ALLOWED_ORIGINS is empty: the widget works only on this server's own pages; add the shop's"
            " sites, e.g. https://shop.example.com",
        )
        return
    for origin in settings.allowed_origins:
        if origin == "*":
            report.problem("origins", "`*` is not allowed: list the shop's sites (any site could open a chat as them)")
            continue
        url = urlsplit(origin)
        if url.scheme not in ("http", "https") or not url.hostname:
            report.problem("origins", f"{origin!r} is not an origin: write it as https://shop.example.com")
        elif url.path or url.query or url.fragment or url.username:
            report.problem(
                "origins",
                f"{origin!r} has more than scheme, host and port; a browser sends {url.scheme}://{url.netloc}",
            )
        elif url.scheme == "http" and url.hostname not in ("localhost", "127.0.0.1", "::1"):
            report.warning("origins", f"{origin} is plain http: shops serve pages over https")
        else:
            report.ok("origins", origin)


async def run(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    report = Report()
    settings = check_settings(env, report)
    if settings is not None:
        check_database(settings, report)
        await check_redis(settings, report)
        await asyncio.to_thread(check_smtp, settings.smtp_url, report)
        check_origins(settings, report)
    if report.problems:
        print(f"{report.problems} problem(s) found")
        return 1
    print("no problems found")
    return 0
