"""The `rapport` command: serve, migrate, agent add, apikey add, import customers, demo, doctor."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import logging.config
import os
import shutil
import sys

import uvicorn

from server import logs, metrics
from server.auth.passwords import Passwords, weakness
from server.commands import demo, doctor, importer
from server.settings import Settings
from server.store import Database
from server.store.agents import AgentStore
from server.store.api_keys import SCOPES, ApiKeyStore
from server.store.sessions import SessionStore
from server.ws.transport import lean_path_refused

log = logging.getLogger("rapport.cli")


def uvicorn_config_kwargs(settings: Settings) -> dict[str, object]:
    """The WebSocket choices that keep connections lean and safe, in one place (Procfile too).

    The lean protocol (ws/transport.py: uvicorn's websockets-sansio protocol with the short route
    to the sessions, lean state and direct writes for the hub) only if RAPPORT_LEAN_WEBSOCKETS is
    on and the installed uvicorn has what it relies on; otherwise uvicorn's own websockets-sansio
    protocol, and one warning that says why.
    """
    refused = "RAPPORT_LEAN_WEBSOCKETS is off" if not settings.lean_websockets else lean_path_refused()
    if refused is not None:
        log.warning(
            "WebSockets run on uvicorn's own protocol, without the lean path (%s): about twice the memory"
            " per idle connection, and no direct writes",
            refused,
        )
    return {
        "ws": "websockets-sansio" if refused is not None else "server.ws.transport:DirectWebSocketProtocol",
        "ws_max_size": settings.max_frame_bytes,
        # Browsers always offer permessage-deflate; accepting it costs ~40-100 KB per connection.
        "ws_per_message_deflate": False,
        "ws_ping_interval": settings.ping_interval,
        "ws_ping_timeout": settings.ping_timeout,
        # A deadline for every request's head, the same as for an idle kept-alive connection.
        "http": "server.http_transport:HeadDeadlineProtocol",
        "timeout_keep_alive": settings.http_idle_timeout,
        "timeout_graceful_shutdown": 10,
    }


def _serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    host = settings.host if args.host is None else args.host
    port = settings.port if args.port is None else args.port
    if args.workers > 1 and not settings.redis_url:
        print(
            "rapport: several workers need REDIS_URL (the in-process broker fans out in one process)", file=sys.stderr
        )
        return 2
    # The same configuration uvicorn applies in each worker: this process's lines look alike.
    log_config = logs.uvicorn_config(settings)
    logging.config.dictConfig(log_config)
    made = metrics.prepare_workers(args.workers)  # before any worker imports prometheus-client
    if settings.metrics_port is not None:
        metrics.serve_port(settings.metrics_host, settings.metrics_port)
    base = demo.base_url(host, port)
    asyncio.run(demo.remember(settings, base))
    for what, url in demo.pages(settings.public_url or base, settings):
        log.info("open the %s: %s", what, url)
    try:
        uvicorn.run(
            "server.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            log_level=settings.log_level,
            log_config=log_config,
            **uvicorn_config_kwargs(settings),  # type: ignore[arg-type]
        )
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return 0


async def _migrate() -> int:
    db = Database(Settings.from_env().database_path)
    await db.open()
    try:
        applied = db.applied  # open() applies what is missing
        print(f"schema up to date (epoch {db.epoch})" + (f"; applied {', '.join(applied)}" if applied else ""))
    finally:
        await db.close()
    return 0


def _password(args: argparse.Namespace, prompt: str) -> str | None:
    """--password, $RAPPORT_AGENT_PASSWORD or a prompt; None (said why) if the rules refuse it."""
    password: str = args.password or os.environ.get("RAPPORT_AGENT_PASSWORD") or getpass.getpass(prompt)
    why = weakness(password, email=args.email)
    if why:
        print(f"rapport: {why}", file=sys.stderr)
        return None
    return password


async def _agent_add(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    password = _password(args, "password: ")
    if password is None:
        return 2
    db = Database(settings.database_path)
    await db.open()
    try:
        agents = AgentStore(db)
        if await agents.by_email(args.email) is not None:
            print(f"rapport: {args.email} already exists", file=sys.stderr)
            return 1
        agent_id = await agents.create(
            email=args.email,
            name=args.name,
            role=args.role,
            password_hash=Passwords(settings).hash_now(password),
            max_concurrent=args.max_concurrent or settings.agent_max_concurrent,
        )
    finally:
        await db.close()
    print(f"{args.role} {args.email} created ({agent_id})")
    return 0


async def _agent_password(args: argparse.Namespace) -> int:
    """For someone locked out (a forgotten password, or a stranger's guesses exhausting the
    account's login limit on a new device): a new password, and every session of theirs ends."""
    settings = Settings.from_env()
    password = _password(args, "new password: ")
    if password is None:
        return 2
    db = Database(settings.database_path)
    await db.open()
    try:
        agents = AgentStore(db)
        agent = await agents.by_email(args.email)
        if agent is None:
            print(f"rapport: no account {args.email}", file=sys.stderr)
            return 1
        await agents.update(agent.id, {"password_hash": Passwords(settings).hash_now(password)})
        ended = await SessionStore(db).end_all(agent.id)
    finally:
        await db.close()
    print(f"password of {args.email} changed; {len(ended)} session(s) ended")
    return 0


async def _apikey_add(args: argparse.Namespace) -> int:
    db = Database(Settings.from_env().database_path)
    await db.open()
    try:
        scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
        unknown = [s for s in scopes if s not in (*SCOPES, "*")]
        if unknown or not scopes:
            print(f"rapport: unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}, *", file=sys.stderr)
            return 2
        key, token = await ApiKeyStore(db).create(args.name, scopes)
    finally:
        await db.close()
    print(f"API key {key.id} ({', '.join(key.scopes)}); shown once, keep it secret:\n{token}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rapport", description="Live chat and push for online shops.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server (settings from the environment)")
    serve.add_argument("--host", help="default: $HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: $PORT or 8000")
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    sub.add_parser("migrate", help="apply database migrations")
    agent = sub.add_parser("agent", help="manage agents")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True)
    add = agent_sub.add_parser("add", help="create an agent account")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=["agent", "marketer", "admin"], default="agent")
    add.add_argument("--password", help="default: $RAPPORT_AGENT_PASSWORD or a prompt")
    add.add_argument("--max-concurrent", type=int)
    reset = agent_sub.add_parser("password", help="set an account's password (its sessions end)")
    reset.add_argument("--email", required=True)
    reset.add_argument("--password", help="default: $RAPPORT_AGENT_PASSWORD or a prompt")
    apikey = sub.add_parser("apikey", help="manage API keys of the shop's back end")
    apikey_sub = apikey.add_subparsers(dest="apikey_command", required=True)
    key_add = apikey_sub.add_parser("add", help="create an API key (printed once)")
    key_add.add_argument("--name", required=True)
    key_add.add_argument("--scopes", default="*", help=f"comma-separated: {', '.join(SCOPES)} or *")
    imp = sub.add_parser("import", help="bulk imports")
    imp_sub = imp.add_subparsers(dest="import_command", required=True)
    imp_customers = imp_sub.add_parser(
        "customers",
        help="import customers from CSV or JSON lines",
        epilog=importer.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp_customers.add_argument("file")
    imp_customers.add_argument("--format", choices=["jsonl", "csv"], help="default: from the file's extension")
    demo_cmd = sub.add_parser("demo", help="print the demo URLs, the shop secret and a sample customer token")
    demo_cmd.add_argument("--host", help="default: RAPPORT_PUBLIC_URL, else where `rapport serve` last listened")
    demo_cmd.add_argument("--port", type=int)
    sub.add_parser("doctor", help="check the settings, the database, Redis, SMTP and the allowed origins")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "migrate":
        return asyncio.run(_migrate())
    if args.command == "agent":
        return asyncio.run(_agent_add(args) if args.agent_command == "add" else _agent_password(args))
    if args.command == "apikey":
        return asyncio.run(_apikey_add(args))
    if args.command == "import":
        return asyncio.run(importer.run(Settings.from_env(), args.file, args.format))
    if args.command == "doctor":
        return asyncio.run(doctor.run())
    return asyncio.run(demo.run(Settings.from_env(), args.host, args.port))
