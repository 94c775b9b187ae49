"""A real SMTP server for tests (aiosmtpd on a free loopback port) that keeps what it receives,
can refuse some recipients, and can be stopped and started again on the same port."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import ssl
import subprocess
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.redis_server import free_port

STRICT = email.policy.default.clone(raise_on_defect=True)


class Received:
    def __init__(self, sender: str, recipients: list[str], data: bytes, peer_pid: int | None = None) -> None:
        self.peer_pid = peer_pid  # the process whose connection brought it (when it is on this host)
        self.sender = sender
        self.recipients = recipients
        self.data = data
        self.message: EmailMessage = email.message_from_bytes(data, policy=STRICT)  # type: ignore[assignment]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content())

    def html(self) -> str:
        body = self.message.get_body(("html",))
        assert body is not None
        return str(body.get_content())


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.sink.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        pid = _pid_of(session.peer)
        with self.sink.lock:
            self.sink.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, pid))
        return "250 Message accepted for delivery"


def _pid_of(peer: Any) -> int | None:
    """The local process holding the client end of a loopback connection (from /proc)."""
    try:
        port = int(peer[1])
    except (TypeError, ValueError, IndexError):
        return None
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(fields[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd)[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (openssl, a test CA of one)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == self.user and data.password == self.password
        return AuthResult(success=ok)


class SmtpSink:
    def __init__(self, port: int | None = None, *, tls: str | None = None, cert: tuple[Path, Path] | None = None,
                 auth: tuple[str, str] | None = None) -> None:
        """`tls`: None (plain), "starttls" (required before anything else) or "implicit" (TLS
        from the first byte), with `cert` (certificate, key); `auth`: a user and password the
        client must log in with."""
        self.tls = tls
        self.cert = cert
        self.auth = auth
        self.port = port or free_port()
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=off"

    def start(self) -> SmtpSink:
        options: dict[str, Any] = {}
        if self.tls is not None:
            assert self.cert is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
            if self.tls == "implicit":
                options["ssl_context"] = context
            else:
                options.update(tls_context=context, require_starttls=True)
        if self.auth is not None:
            options.update(authenticator=_Authenticator(*self.auth), auth_required=True,
                           auth_require_tls=self.tls == "starttls")
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.recipients]

    async def wait_for(self, count: int, *, to: str | None = None, timeout: float = 15.0) -> list[Received]:
        """At least `count` mails (to `to`, if given), waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [r for r in self.received if to is None or to in r.recipients]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)
