"""Log lines as JSON (the default) or text, each carrying the ids of what it happened to.

The ids live in context variables set at the edges: the REST route wrapper (api/endpoint.py) sets
the request's id and its caller's, the socket session (ws/session.py) the connection's, its
customer's or agent's, and the conversation of the frame being handled. Each request and each
connection runs in its own asyncio task, so what one sets never shows in another's lines.

What is never logged: message bodies, tokens, passwords, secrets, cookies. Log ids and counts;
uvicorn's access lines lose their query string here (a link's token could ride in it).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import sys
from typing import Any

import msgspec

from server.settings import Settings

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
CONNECTION_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar("connection_id", default=None)
CONVERSATION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("conversation_id", default=None)
CUSTOMER_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("customer_id", default=None)
AGENT_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("agent_id", default=None)

_CONTEXT: tuple[tuple[str, contextvars.ContextVar[Any]], ...] = (
    ("request_id", REQUEST_ID),
    ("connection_id", CONNECTION_ID),
    ("conversation_id", CONVERSATION_ID),
    ("customer_id", CUSTOMER_ID),
    ("agent_id", AGENT_ID),
)
# What every LogRecord has: anything else on a record came from `extra=` and is a field of the line.
# uvicorn's `color_message` is its message again, with terminal colours.
_STANDARD = {*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime", "taskName", "color_message"}
_encoder = msgspec.json.Encoder(enc_hook=str)


def context_ids() -> dict[str, Any]:
    """The ids set in the current context."""
    return {name: value for name, var in _CONTEXT if (value := var.get()) is not None}


class Formatter(logging.Formatter):
    """`json`: one object a line (time, level, logger, message, the context's ids, extra fields,
    exc); `text`: a readable line with the same ids at its end."""

    def __init__(self, style: str = "json") -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.json = style == "json"

    def format(self, record: logging.LogRecord) -> str:
        fields = context_ids()
        fields.update((k, v) for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_"))
        if not self.json:
            line = super().format(record)
            return line + "".join(f" {k}={v}" for k, v in fields.items()) if fields else line
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **fields,
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return _encoder.encode(out).decode()


class WithoutQuery(logging.Filter):
    """uvicorn's lines without the query string of a path (it may carry a token): its access lines,
    whose parts become fields of their own, and its WebSocket handshake lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple):
            return True
        record.args = args = tuple(
            a.partition("?")[0] if isinstance(a, str) and a.startswith("/") else a for a in args
        )
        if record.name == "uvicorn.access" and len(args) == 5:
            record.client, record.method, record.path, record.status = args[0], args[1], args[2], args[4]
        return True


class Handler(logging.StreamHandler):  # type: ignore[type-arg]  # generic only in typeshed
    """Ours, to stdout (a container's log stream): configure() recognises it."""

    def __init__(self, style: str = "json") -> None:
        super().__init__(sys.stdout)
        self.setFormatter(Formatter(style))


def configure(settings: Settings) -> None:
    """The root logger at the configured level, through our handler, unless the process's output
    is already someone else's (pytest's capture, an application embedding ours)."""
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    ours = [h for h in root.handlers if isinstance(h, Handler)]
    for handler in ours:
        handler.setFormatter(Formatter(settings.log_format))
    if not root.handlers:
        root.addHandler(Handler(settings.log_format))


def uvicorn_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's `log_config`: its loggers through ours, one stream for the whole process (each
    worker applies it at start)."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"without_query": {"()": "server.logs.WithoutQuery"}},
        "handlers": {"rapport": {"()": "server.logs.Handler", "style": settings.log_format}},
        "root": {"handlers": ["rapport"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True, "filters": ["without_query"]},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True, "filters": ["without_query"]},
        },
    }
