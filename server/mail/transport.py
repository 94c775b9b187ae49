"""Where composed mail goes: the interface of the outbox folder and the SMTP sender, and the choice."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Literal, NamedTuple

from server.settings import Settings


class Outgoing(NamedTuple):
    """One composed mail: its queue id (names it in the outbox), envelope and bytes."""

    mail_id: str
    sender: str
    recipient: str
    data: bytes


class Result(NamedTuple):
    """`sent`; `temporary` (try again later: a server down, a 4xx); `permanent` (a 5xx: the
    address or the message is refused, trying again cannot help)."""

    outcome: Literal["sent", "temporary", "permanent"]
    error: str | None = None


SENT = Result("sent")


class Transport(abc.ABC):
    @abc.abstractmethod
    async def send(self, mails: Sequence[Outgoing]) -> list[Result]:
        """Deliver these mails; one result each, in order. Never raises for a mail's failure."""

    async def close(self) -> None:
        return None


def create_transport(settings: Settings) -> Transport:
    """SMTP when `SMTP_URL` is set, else the outbox folder."""
    if settings.smtp_url:
        from server.mail.smtp import SmtpTransport

        return SmtpTransport(settings.smtp_url, timeout=settings.smtp_timeout, connections=settings.smtp_connections)
    from server.mail.outbox import Outbox

    return Outbox(settings.mail_outbox)
