"""The small SMTP server Rapport runs for customers' replies (aiosmtpd, on the process's own loop).

Turned on by `RAPPORT_MAIL_INBOUND`, on `RAPPORT_MAIL_INBOUND_HOST`:`RAPPORT_MAIL_INBOUND_PORT`
(with several processes on one host the port is shared, SO_REUSEPORT). It accepts mail only for
reply addresses shaped like ours (RCPT is refused otherwise, so it relays nothing), at most
`MAX_BYTES` of it, and answers DATA with what mail/inbound.py decided: 250 stored or ignored,
550 refused (a forged or stale reply address), 451 try later.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from aiosmtpd.smtp import SMTP

from server.errors import Problem
from server.mail.inbound import InboundMail

log = logging.getLogger("rapport.mail")

MAX_BYTES = 10 * 1024 * 1024


class _Handler:
    def __init__(self, inbound: InboundMail) -> None:
        self._inbound = inbound

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if not self._inbound.ours(address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8", "replace")
        try:
            received = await self._inbound.receive(raw, list(envelope.rcpt_tos))
        except Problem as exc:
            return f"451 4.3.0 {exc.message}"
        except Exception:
            log.exception("inbound mail failed")
            return "451 4.3.0 Try again later"
        if received.outcome == "refused":
            return f"550 5.7.1 {received.reason}"
        return f"250 2.0.0 {received.reason}"


class ReplyListener:
    def __init__(self, inbound: InboundMail, host: str, port: int) -> None:
        self._inbound = inbound
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        handler = _Handler(self._inbound)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(handler, data_size_limit=MAX_BYTES, hostname=socket.getfqdn(), timeout=60, loop=loop),
            self._host,
            self._port,
            reuse_port=True,
        )
        log.info("listening for replies by e-mail on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
