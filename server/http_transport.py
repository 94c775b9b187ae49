"""uvicorn's HTTP protocol with a deadline for each request's head: slow clients cannot hold sockets.

uvicorn closes a kept-alive connection that stays idle (`timeout_keep_alive`), but a client that
sends a request's head a byte at a time is never timed out ("slowloris"): a few thousand of them
hold a process's open files (20,000 here) and nobody else connects. This protocol gives every
request head the same time a kept-alive connection may stay idle (RAPPORT_HTTP_IDLE_TIMEOUT),
from its first byte (or from the connection's start) to its last header, then closes the socket.

It subclasses the protocol `--http auto` would pick (httptools when installed, else h11) and
overrides only the parser callbacks those classes document for the purpose (`on_message_begin`
and `on_headers_complete` for httptools; for h11, `handle_events` around its event loop) plus
`connection_made`/`connection_lost`, all of which call the parent first.
"""

from __future__ import annotations

import asyncio
from typing import Any

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]


class HeadDeadlineProtocol(_Base):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.timeout_keep_alive, self._too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
