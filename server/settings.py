"""Every setting, read once from the environment, typed, with its default and meaning."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

# Limits and timers must be positive: a zero or negative one would refuse everything or spin.
Count = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]


class SettingsError(SystemExit):
    """A setting from the environment that cannot be used; exits with its message."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Built once by create_app() and passed down; tests build it directly."""

    database_path: str = "rapport.db"
    redis_url: str | None = None
    public_url: str | None = None
    secret_key: str | None = None
    shop_secret: str | None = None
    allowed_origins: tuple[str, ...] = ()
    admin_email: str = "admin@example.com"
    admin_password: str | None = None
    max_message_chars: Count = 4000
    max_frame_bytes: Count = 65536
    rate_per_second: Seconds = 10.0
    rate_burst: Count = 30
    send_queue_frames: Count = 512
    hello_timeout: Seconds = 10.0
    ping_interval: Seconds = 20.0
    ping_timeout: Seconds = 20.0
    replay_limit: Count = 1000
    snapshot_events: Count = 200
    agent_max_concurrent: Count = 5
    auto_assign: bool = True
    presence_ttl: Seconds = 45.0
    presence_heartbeat: Seconds = 15.0
    position_check_interval: Seconds = 30.0
    session_max_age: Count = 12 * 3600
    visitor_token_max_age: Count = 365 * 24 * 3600
    argon2_time_cost: Count = 3
    argon2_memory_kib: Count = 65536
    argon2_parallelism: Count = 4
    max_bulk_bytes: Count = 10 * 1024 * 1024
    frequency_cap_per_day: Count = 3
    scheduler_interval: Seconds = 1.0
    gc_full_interval: Annotated[float, msgspec.Meta(ge=0)] = 600.0
    lean_websockets: bool = True
    login_attempts_per_account: Count = 10
    login_attempts_per_address: Count = 30
    login_window: Seconds = 300.0
    http_idle_timeout: Seconds = 10.0
    customer_token_leeway: Annotated[float, msgspec.Meta(ge=0, le=300)] = 5.0
    customer_token_max_age: Count = 7 * 86_400
    max_open_conversations: Count = 3
    new_conversations_per_visitor: Count = 10
    new_conversations_per_address: Count = 30
    new_conversations_per_minute: Count = 300
    visitor_connects_per_minute: Count = 120
    rate_limit_pause: Seconds = 10.0
    widget_title: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    widget_greeting: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    widget_reply_minutes: Annotated[int, msgspec.Meta(ge=1, le=10080)] | None = None
    widget_prechat_fields: tuple[Literal["name", "email"], ...] = ()
    widget_color: Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")] = "#4f46e5"
    widget_position: Literal["right", "left"] = "right"
    widget_language: Literal["en", "de"] | None = None
    smtp_url: str | None = None
    smtp_timeout: Seconds = 10.0
    smtp_connections: Count = 4
    mail_outbox: str = "mail-outbox"
    mail_from: str = "shop@example.com"
    mail_from_name: str = "Our shop"
    mail_shop_name: str = "Our shop"
    mail_logo_url: str | None = None
    mail_colour: Annotated[str, msgspec.Meta(pattern=r"^#[0-9A-Fa-f]{6}$")] = "#2f6fde"
    mail_chat_url: str | None = None
    mail_reply_domain: str | None = None
    mail_reply_token_max_age: Count = 90 * 86_400
    mail_inbound: bool = False
    mail_inbound_host: str = "0.0.0.0"  # noqa: S104 - an SMTP listener for the world, when turned on
    mail_inbound_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 2525
    mail_inbound_secret: str | None = None
    mail_max_attempts: Count = 8
    mail_retry_base: Seconds = 30.0
    mail_poll_interval: Seconds = 1.0
    mail_offline_reply_delay: Seconds = 300.0
    mail_reply_batch_window: Seconds = 60.0
    mail_agent_alert_delay: Seconds = 300.0
    mail_order_unseen_delay: Seconds = 1800.0
    mail_reminder_unseen_delay: Seconds = 8 * 3600.0
    page_views_kept: Count = 20
    log_level: str = "info"
    log_format: Literal["json", "text"] = "json"
    host: str = "127.0.0.1"
    port: Port = 8000
    metrics_token: str | None = None
    metrics_port: Port | None = None
    metrics_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read RAPPORT_* (and the platform's DATABASE_URL, REDIS_URL) from the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, (var, _doc) in DOCS.items():
            raw = env.get(var)
            if raw is None or raw == "":
                continue
            values[name] = _parse(name, raw)
        values.update(overrides)
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SettingsError(f"invalid setting: {exc}") from exc


def _parse(name: str, raw: str) -> Any:
    if name == "allowed_origins":
        return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if name == "widget_prechat_fields":
        return tuple(f.strip().lower() for f in raw.split(",") if f.strip())
    if name == "database_path":
        return raw.removeprefix("sqlite:///").removeprefix("sqlite://")
    return raw


# name -> (environment variable, meaning). docs/settings.md is generated from this table
# (`python -m server.schema`), and a test keeps the two in step.
DOCS: dict[str, tuple[str, str]] = {
    "database_path": ("DATABASE_URL", "SQLite file (`sqlite:///path` or a plain path)."),
    "redis_url": ("REDIS_URL", "Redis for fan-out between processes and hosts; unset: in-process broker."),
    "public_url": ("RAPPORT_PUBLIC_URL", "The URL customers reach this server at (links, own origin)."),
    "secret_key": (
        "RAPPORT_SECRET_KEY",
        "Signs sessions and visitor tokens; comma-separated list to rotate (first signs). Unset: generated once and"
        " kept in the database.",
    ),
    "shop_secret": (
        "RAPPORT_SHOP_SECRET",
        "Shared with the shop's back end to sign customer identities (JWT HS256 or HMAC-SHA256 of the user id)."
        " Unset: generated once, kept in the database, shown by `rapport demo`.",
    ),
    "allowed_origins": (
        "RAPPORT_ALLOWED_ORIGINS",
        "Comma-separated origins whose pages may open the widget socket (the shop's sites). This server's own"
        " origin is always allowed.",
    ),
    "admin_email": ("RAPPORT_ADMIN_EMAIL", "E-mail of the first admin, created at first start."),
    "admin_password": (
        "RAPPORT_ADMIN_PASSWORD",
        "Password of the first admin; unset: a random one is printed once at first start.",
    ),
    "max_message_chars": ("RAPPORT_MAX_MESSAGE_CHARS", "Longest chat message, in characters."),
    "max_frame_bytes": ("RAPPORT_MAX_FRAME_BYTES", "Largest WebSocket frame accepted; larger closes with 1009."),
    "rate_per_second": ("RAPPORT_RATE_PER_SECOND", "Frames per second a connection may send, sustained."),
    "rate_burst": ("RAPPORT_RATE_BURST", "Frames a connection may send in a burst above the sustained rate."),
    "send_queue_frames": (
        "RAPPORT_SEND_QUEUE_FRAMES",
        "Frames queued for one connection before it counts as a slow consumer and is closed with 4001.",
    ),
    "hello_timeout": ("RAPPORT_HELLO_TIMEOUT", "Seconds a new connection has to send its hello."),
    "ping_interval": (
        "RAPPORT_PING_INTERVAL",
        "Seconds between WebSocket pings; they keep NAT entries alive and find dead peers.",
    ),
    "ping_timeout": ("RAPPORT_PING_TIMEOUT", "Seconds a peer has to answer a ping before it is dropped."),
    "replay_limit": (
        "RAPPORT_REPLAY_LIMIT",
        "Most events a resume replays; a client further behind gets a reset with a snapshot.",
    ),
    "snapshot_events": ("RAPPORT_SNAPSHOT_EVENTS", "Events in a reset snapshot (the latest ones)."),
    "agent_max_concurrent": ("RAPPORT_AGENT_MAX_CONCURRENT", "Default cap of open conversations per agent."),
    "auto_assign": ("RAPPORT_AUTO_ASSIGN", "Assign waiting conversations to the least busy online agent."),
    "presence_ttl": ("RAPPORT_PRESENCE_TTL", "Seconds after which a silent process's agents count as offline."),
    "presence_heartbeat": ("RAPPORT_PRESENCE_HEARTBEAT", "Seconds between presence heartbeats of a process."),
    "position_check_interval": (
        "RAPPORT_POSITION_CHECK_INTERVAL",
        "Seconds between checks of every live stream against the store (catches a lost last message).",
    ),
    "session_max_age": ("RAPPORT_SESSION_MAX_AGE", "Seconds an agent's console session lasts."),
    "visitor_token_max_age": ("RAPPORT_VISITOR_TOKEN_MAX_AGE", "Seconds a visitor token stays valid."),
    "argon2_time_cost": ("RAPPORT_ARGON2_TIME_COST", "Argon2id passes for agent passwords."),
    "argon2_memory_kib": ("RAPPORT_ARGON2_MEMORY_KIB", "Argon2id memory per hash, KiB."),
    "argon2_parallelism": ("RAPPORT_ARGON2_PARALLELISM", "Argon2id lanes."),
    "max_bulk_bytes": ("RAPPORT_MAX_BULK_BYTES", "Largest bulk customer import accepted over the API, bytes."),
    "frequency_cap_per_day": (
        "RAPPORT_FREQUENCY_CAP_PER_DAY",
        "Most marketing notifications one customer gets in 24 hours (order updates are not counted).",
    ),
    "scheduler_interval": (
        "RAPPORT_SCHEDULER_INTERVAL",
        "Seconds between looks for due scheduled campaigns and reminders.",
    ),
    "gc_full_interval": (
        "RAPPORT_GC_FULL_INTERVAL",
        "Seconds between full collections of Python's cycle collector, run on this clock instead of"
        " CPython's (which walks the whole heap at every quarter of growth); 0 keeps CPython's.",
    ),
    "lean_websockets": (
        "RAPPORT_LEAN_WEBSOCKETS",
        "`rapport serve` runs WebSockets on uvicorn's protocol made lean (about half the memory per idle"
        " connection, direct writes from the hub) if the installed uvicorn has what that relies on (checked at"
        " start), else on uvicorn's own with a warning; false: always on uvicorn's own.",
    ),
    "login_attempts_per_account": (
        "RAPPORT_LOGIN_ATTEMPTS_PER_ACCOUNT",
        "Failed console logins per account within the login window, from devices the agent has not logged in"
        " from before (a device they have has a limit of its own, so guessing cannot lock them out).",
    ),
    "login_attempts_per_address": (
        "RAPPORT_LOGIN_ATTEMPTS_PER_ADDRESS",
        "Failed console logins per client address within the login window, whatever the account.",
    ),
    "login_window": ("RAPPORT_LOGIN_WINDOW", "Seconds over which failed logins are counted."),
    "http_idle_timeout": (
        "RAPPORT_HTTP_IDLE_TIMEOUT",
        "Seconds a client has to send a request's head, and a kept-alive connection may stay idle.",
    ),
    "customer_token_leeway": (
        "RAPPORT_CUSTOMER_TOKEN_LEEWAY",
        "Seconds of clock difference allowed when checking the expiry of a shop-signed customer JWT.",
    ),
    "customer_token_max_age": (
        "RAPPORT_CUSTOMER_TOKEN_MAX_AGE",
        "Longest lifetime a shop-signed customer JWT may claim (its exp from now); longer ones are refused.",
    ),
    "max_open_conversations": (
        "RAPPORT_MAX_OPEN_CONVERSATIONS",
        "Conversations one customer may have open (waiting or assigned) at once.",
    ),
    "new_conversations_per_visitor": (
        "RAPPORT_NEW_CONVERSATIONS_PER_VISITOR",
        "New conversations one customer may start in an hour.",
    ),
    "new_conversations_per_address": (
        "RAPPORT_NEW_CONVERSATIONS_PER_ADDRESS",
        "New conversations one client address may start in ten minutes (several shoppers may share one).",
    ),
    "new_conversations_per_minute": (
        "RAPPORT_NEW_CONVERSATIONS_PER_MINUTE",
        "New conversations the whole shop accepts in a minute; beyond it shoppers are asked to try again.",
    ),
    "visitor_connects_per_minute": (
        "RAPPORT_VISITOR_CONNECTS_PER_MINUTE",
        "Widget connections one client address may open in a minute, per server process.",
    ),
    "rate_limit_pause": (
        "RAPPORT_RATE_LIMIT_PAUSE",
        "Seconds a client closed for sending too fast (4002) is refused when it reconnects.",
    ),
    "widget_title": (
        "RAPPORT_WIDGET_TITLE",
        "The chat panel's title; unset: \"Chat with us\" in the shopper's language.",
    ),
    "widget_greeting": (
        "RAPPORT_WIDGET_GREETING",
        "The greeting at the top of an empty chat; unset: a short one in the shopper's language.",
    ),
    "widget_reply_minutes": (
        "RAPPORT_WIDGET_REPLY_MINUTES",
        "The reply time the widget announces (\"we usually reply within N minutes\"); unset: none is announced.",
    ),
    "widget_prechat_fields": (
        "RAPPORT_WIDGET_PRECHAT_FIELDS",
        "Comma list of what an anonymous shopper is asked before their first message: `name`, `email`;"
        " unset: no pre-chat form. (When nobody is online the e-mail address is always asked.)",
    ),
    "widget_color": (
        "RAPPORT_WIDGET_COLOR",
        "The widget's colour (#rrggbb); white text is drawn on it, so pick one dark enough for WCAG AA.",
    ),
    "widget_position": ("RAPPORT_WIDGET_POSITION", "Where the launcher sits: `right` or `left`."),
    "widget_language": (
        "RAPPORT_WIDGET_LANGUAGE",
        "The widget's language, `en` or `de`; unset: the page's `lang`, else English. A page's own"
        " `RapportSettings.language` wins.",
    ),
    "smtp_url": (
        "SMTP_URL",
        "Send mail through this SMTP server: `smtp://user:password@host:587` (STARTTLS when the server offers"
        " it; `?starttls=require` insists) or `smtps://user:password@host:465` (implicit TLS). Unset: every mail is"
        " written to the outbox folder instead.",
    ),
    "smtp_timeout": ("RAPPORT_SMTP_TIMEOUT", "Seconds an SMTP connection, command or message may take."),
    "smtp_connections": (
        "RAPPORT_SMTP_CONNECTIONS",
        "SMTP connections one process sends over at once (each kept open between mails).",
    ),
    "mail_outbox": (
        "RAPPORT_MAIL_OUTBOX",
        "Folder the mail goes to, one readable `.eml` file per message, while `SMTP_URL` is unset.",
    ),
    "mail_from": ("RAPPORT_MAIL_FROM", "The sender address of every mail."),
    "mail_from_name": ("RAPPORT_MAIL_FROM_NAME", "The sender name of every mail."),
    "mail_shop_name": ("RAPPORT_MAIL_SHOP_NAME", "The shop's name, in the mails' text and footer."),
    "mail_logo_url": ("RAPPORT_MAIL_LOGO_URL", "An https URL of the shop's logo, at the top of HTML mails."),
    "mail_colour": ("RAPPORT_MAIL_COLOUR", "The shop's colour in HTML mails (`#rrggbb`)."),
    "mail_chat_url": (
        "RAPPORT_MAIL_CHAT_URL",
        "A page of the shop with the widget on it: mails link there to open the chat again"
        " (`#rapport-chat=<conversation>`). Unset: the public URL.",
    ),
    "mail_reply_domain": (
        "RAPPORT_MAIL_REPLY_DOMAIN",
        "Domain of the reply addresses (`reply+<signed token>@domain`) whose mail reaches Rapport (its listener or"
        " the inbound endpoint). Unset: mails carry no reply address and customers' answers go to the sender.",
    ),
    "mail_reply_token_max_age": (
        "RAPPORT_MAIL_REPLY_TOKEN_MAX_AGE",
        "Seconds a reply address stays valid; a reply to an older mail is refused.",
    ),
    "mail_inbound": ("RAPPORT_MAIL_INBOUND", "Run the SMTP listener that receives customers' replies."),
    "mail_inbound_host": ("RAPPORT_MAIL_INBOUND_HOST", "Address the SMTP listener binds."),
    "mail_inbound_port": ("RAPPORT_MAIL_INBOUND_PORT", "Port of the SMTP listener."),
    "mail_inbound_secret": (
        "RAPPORT_MAIL_INBOUND_SECRET",
        "When set, the HTTP inbound endpoint wants it as the password of HTTP Basic auth or as `?key=`"
        " (mail providers post to a URL that can carry either).",
    ),
    "mail_max_attempts": (
        "RAPPORT_MAIL_MAX_ATTEMPTS",
        "Tries of one mail before it is set aside as a dead letter (admins see and retry them).",
    ),
    "mail_retry_base": (
        "RAPPORT_MAIL_RETRY_BASE",
        "Seconds before the first retry of a mail that failed; each further retry waits twice as long (at most an"
        " hour), with jitter.",
    ),
    "mail_poll_interval": ("RAPPORT_MAIL_POLL_INTERVAL", "Seconds between looks for mail due in the queue."),
    "mail_offline_reply_delay": (
        "RAPPORT_MAIL_OFFLINE_REPLY_DELAY",
        "Seconds a customer must have been off the site before agents' unread replies go to them by e-mail.",
    ),
    "mail_reply_batch_window": (
        "RAPPORT_MAIL_REPLY_BATCH_WINDOW",
        "Seconds without a new agent reply before the unread replies are mailed, together in one mail.",
    ),
    "mail_agent_alert_delay": (
        "RAPPORT_MAIL_AGENT_ALERT_DELAY",
        "Seconds a customer's message may wait unanswered, with no agent online, before agents are e-mailed.",
    ),
    "mail_order_unseen_delay": (
        "RAPPORT_MAIL_ORDER_UNSEEN_DELAY",
        "Seconds an order update may stay unseen in the widget before it goes by e-mail.",
    ),
    "mail_reminder_unseen_delay": (
        "RAPPORT_MAIL_REMINDER_UNSEEN_DELAY",
        "Seconds after a dated reminder (a birthday) fired before it goes by e-mail to a customer who was not on"
        " the site since.",
    ),
    "page_views_kept": (
        "RAPPORT_PAGE_VIEWS_KEPT",
        "Pages kept per customer for the agent's customer panel (the latest ones; a visitor who has not written"
        " has none stored).",
    ),
    "log_level": ("RAPPORT_LOG_LEVEL", "debug, info, warning or error."),
    "log_format": (
        "RAPPORT_LOG_FORMAT",
        "`json`: one JSON object a line, with the request, connection, conversation, customer and agent ids"
        " where they apply; `text`: readable lines (what `scripts/serve` uses on a laptop).",
    ),
    "host": ("HOST", "Address `rapport serve` listens on (`--host`); also in the URLs it prints."),
    "port": ("PORT", "Port `rapport serve` listens on (`--port`); also in the URLs it prints."),
    "metrics_token": (
        "RAPPORT_METRICS_TOKEN",
        "Bearer token a scraper sends for `/metrics` on the main port (`Authorization: Bearer ...`); unset:"
        " `/metrics` is not served there (404).",
    ),
    "metrics_port": (
        "RAPPORT_METRICS_PORT",
        "A separate port `rapport serve` serves `/metrics` on, without a token, for every worker; unset: none.",
    ),
    "metrics_host": ("RAPPORT_METRICS_HOST", "Address of the separate metrics port (keep it private)."),
}
