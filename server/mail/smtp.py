"""Sending through an SMTP server with aiosmtplib: STARTTLS or implicit TLS, auth, timeouts, and a
few connections kept open between mails.

`SMTP_URL` is `smtp://user:password@host:587` (STARTTLS when the server offers it; add
`?starttls=require` to refuse a server that does not, `?starttls=off` for a local relay) or
`smtps://user:password@host:465` (TLS from the first byte). `?cafile=/path/ca.pem` trusts a
private CA. Each mail is one transaction (MAIL, RCPT, DATA) on a connection that stays open for
the next; a connection that fails is dropped and opened again for the next mail.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from server.mail.transport import SENT, Outgoing, Result, Transport
from server.settings import SettingsError

log = logging.getLogger("rapport.mail")


class SmtpSettings:
    """What `SMTP_URL` says, checked once at start."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SettingsError("SMTP_URL must be smtp://[user:password@]host[:port] or smtps://...")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.host = parts.hostname
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        starttls = query.get("starttls", "auto")
        if starttls not in ("auto", "require", "off"):
            raise SettingsError("SMTP_URL's starttls is auto, require or off")
        # aiosmtplib: None upgrades when the server offers STARTTLS, True insists, False never.
        self.start_tls: bool | None = {"auto": None, "require": True, "off": False}[starttls]
        if self.implicit_tls:
            self.start_tls = False
        self.cafile = query.get("cafile")

    def tls_context(self) -> ssl.SSLContext | None:
        if self.cafile is None:
            return None
        return ssl.create_default_context(cafile=self.cafile)


def _result_of(exc: BaseException) -> Result:
    code = getattr(exc, "code", None)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        code = exc.recipients[0].code
    text = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(code, int) and 500 <= code < 600 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return Result("permanent", text)
    return Result("temporary", text)


class SmtpTransport(Transport):
    def __init__(self, url: str, *, timeout: float, connections: int) -> None:
        self.settings = SmtpSettings(url)
        self._timeout = timeout
        self._idle: list[aiosmtplib.SMTP] = []
        self._connections = connections
        self._lock = asyncio.Lock()

    async def send(self, mails: Sequence[Outgoing]) -> list[Result]:
        results: list[Result | None] = [None] * len(mails)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(len(mails)):
            queue.put_nowait(index)

        async def worker() -> None:
            client: aiosmtplib.SMTP | None = None
            try:
                while not queue.empty():
                    index = queue.get_nowait()
                    client, results[index], reachable = await self._send_one(client, mails[index])
                    if not reachable:
                        # No connection could be made: the rest of this share would fail the same way.
                        while not queue.empty():
                            results[queue.get_nowait()] = results[index]
            finally:
                if client is not None:
                    self._idle.append(client)

        workers = min(self._connections, len(mails))
        await asyncio.gather(*(worker() for _ in range(workers)))
        return [r if r is not None else Result("temporary", "not tried") for r in results]

    async def _send_one(
        self, client: aiosmtplib.SMTP | None, mail: Outgoing
    ) -> tuple[aiosmtplib.SMTP | None, Result, bool]:
        """(the connection to go on with, the result, whether the server could be reached)."""
        for _ in range(2):
            fresh = client is None
            if client is None:
                try:
                    client = await self._connection()
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    return None, _result_of(exc), False
            try:
                await client.sendmail(mail.sender, [mail.recipient], mail.data)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                result = _result_of(exc)
                if _still_usable(exc):
                    return client, result, True
                await _drop(client)
                client = None
                if fresh:
                    return None, result, True
                # A kept connection the server had closed meanwhile: once more on a new one.
                continue
            return client, SENT, True
        return None, result, True

    async def _connection(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            use_tls=s.implicit_tls,
            start_tls=s.start_tls,
            timeout=self._timeout,
            tls_context=s.tls_context(),
        )
        await client.connect()
        return client

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _drop(client, polite=True)


def _still_usable(exc: BaseException) -> bool:
    """After a refusal (a response from the server) the connection goes on; after a network
    error or a timeout it is dropped."""
    return isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(exc, aiosmtplib.SMTPServerDisconnected)


async def _drop(client: aiosmtplib.SMTP | None, *, polite: bool = False) -> None:
    if client is None:
        return
    try:
        if polite and client.is_connected:
            await asyncio.wait_for(client.quit(), 2)
        else:
            client.close()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()
