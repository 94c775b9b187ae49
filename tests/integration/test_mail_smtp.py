"""The SMTP transport against real SMTP servers (aiosmtpd): STARTTLS required, TLS from the first
byte, a login, a wrong password, a server that is not there, kept connections."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.mail.addresses import mailbox
from server.mail.message import Envelope, compose, new_message_id
from server.mail.smtp import SmtpSettings, SmtpTransport
from server.mail.templates import Rendered
from server.mail.transport import Outgoing
from server.settings import SettingsError
from tests.support.redis_server import free_port
from tests.support.smtp_sink import SmtpSink, self_signed


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def outgoing(n: int) -> list[Outgoing]:
    found = []
    for i in range(n):
        envelope = Envelope(sender=mailbox("Shop", "shop@shop.test"), recipient=mailbox(None, f"c{i}@example.com"),
                            message_id=new_message_id("shop.test"))
        data = compose(envelope, Rendered(subject=f"Hello {i}", text="text", html="<p>html</p>"))
        found.append(Outgoing(f"m{i}", "shop@shop.test", f"c{i}@example.com", data))
    return found


@pytest.fixture
def stopped() -> Iterator[list[SmtpSink]]:
    sinks: list[SmtpSink] = []
    yield sinks
    for sink in sinks:
        sink.stop()


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
async def test_tls_and_login(mode: str, cert: tuple[Path, Path], stopped: list[SmtpSink]) -> None:
    sink = SmtpSink(tls=mode, cert=cert, auth=("shop", "p@ss:word")).start()
    stopped.append(sink)
    scheme = "smtps" if mode == "implicit" else "smtp"
    query = f"cafile={cert[0]}" + ("&starttls=require" if mode == "starttls" else "")
    transport = SmtpTransport(f"{scheme}://shop:p%40ss%3Aword@localhost:{sink.port}?{query}", timeout=5,
                              connections=2)
    try:
        results = await transport.send(outgoing(6))
        assert [r.outcome for r in results] == ["sent"] * 6, results
        assert sorted(r.recipients[0] for r in sink.received) == sorted(f"c{i}@example.com" for i in range(6))
        again = await transport.send(outgoing(2))  # over the kept connections
        assert [r.outcome for r in again] == ["sent", "sent"]
    finally:
        await transport.close()

    delivered = len(sink.received)
    wrong = SmtpTransport(f"{scheme}://shop:nope@localhost:{sink.port}?{query}", timeout=2, connections=1)
    try:
        refused = await wrong.send(outgoing(1))
        # A refused login is the operator's to fix: retried (then a dead letter), never dropped.
        assert refused[0].outcome == "temporary" and len(sink.received) == delivered
    finally:
        await wrong.close()


async def test_an_untrusted_certificate_is_refused(cert: tuple[Path, Path], stopped: list[SmtpSink]) -> None:
    sink = SmtpSink(tls="implicit", cert=cert).start()
    stopped.append(sink)
    transport = SmtpTransport(f"smtps://localhost:{sink.port}", timeout=5, connections=1)
    try:
        results = await transport.send(outgoing(2))
        assert {r.outcome for r in results} == {"temporary"} and sink.received == []
    finally:
        await transport.close()


async def test_a_server_that_is_not_there_fails_the_batch_temporarily_and_fast() -> None:
    transport = SmtpTransport(f"smtp://127.0.0.1:{free_port()}", timeout=2, connections=2)
    results = await transport.send(outgoing(10))
    assert [r.outcome for r in results] == ["temporary"] * 10


def test_smtp_url_is_checked() -> None:
    with pytest.raises(SettingsError):
        SmtpSettings("http://example.com")
    with pytest.raises(SettingsError):
        SmtpSettings("smtp://example.com?starttls=maybe")
    plain = SmtpSettings("smtp://u:p%2Fx@mail.example.com")
    assert (plain.port, plain.start_tls, plain.username, plain.password) == (587, None, "u", "p/x")
    assert SmtpSettings("smtps://mail.example.com").port == 465
    assert SmtpSettings("smtp://mail.example.com:25?starttls=off").start_tls is False
