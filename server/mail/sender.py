"""Draining the mail queue: claim due mails, render and compose them, send, record what happened.

Every process runs one sender. Mails are claimed in batches in a write transaction (one process
each, under a lease), rendered from their template and stored context, handed to the transport
together, and their outcomes written in one transaction: sent; retried later with exponential
backoff and jitter; or, after `RAPPORT_MAIL_MAX_ATTEMPTS` tries or a permanent refusal, set aside
as a dead letter for admins. Nothing here blocks a request or a socket: requests and jobs only
write rows; this task sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from server import metrics
from server.ids import now_ms
from server.mail.addresses import BadAddress, mailbox
from server.mail.links import MailLinks
from server.mail.message import Envelope, compose
from server.mail.templates import MailTemplates
from server.mail.transport import Outgoing, Result, Transport
from server.settings import Settings, SettingsError
from server.store.mail_queue import MailQueueStore, Outcome, QueuedMail

log = logging.getLogger("rapport.mail")

BATCH = 200
_PER_CONNECTION = 25
_MAX_BACKOFF_S = 3600.0


class MailSender:
    def __init__(
        self,
        queue: MailQueueStore,
        transport: Transport,
        templates: MailTemplates,
        links: MailLinks,
        settings: Settings,
        process_id: str,
    ) -> None:
        self._queue = queue
        self.transport = transport
        self._templates = templates
        self._links = links
        self._settings = settings
        self._process_id = process_id
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # A batch gives each SMTP connection a few mails, each sent within the SMTP timeout (a
        # server that is not there fails the rest of a share at once); the claim outlives it.
        self._batch = settings.smtp_connections * _PER_CONNECTION if settings.smtp_url else BATCH
        self._lease_ms = int((5 + settings.smtp_timeout * (_PER_CONNECTION + 1)) * 1000)
        self._stopping = False
        try:
            self._sender = mailbox(settings.mail_from_name, settings.mail_from)
        except BadAddress as exc:
            raise SettingsError(f"RAPPORT_MAIL_FROM: {exc}") from None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mail-sender")

    async def stop(self) -> None:
        """After the batch in hand (its outcomes recorded: a restart then resends nothing), or,
        if that takes long, cut short (its mails are claimable again when their lease ends)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self.transport.close()

    def wake(self) -> None:
        """Mail was queued here: look now rather than at the next poll."""
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                sent = await self.run_once()
                metrics.MAIL_QUEUE.set(await self._queue.waiting())
            except Exception:
                log.exception("mail sender failed; trying again")
                sent = 0
            if sent or self._stopping:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.mail_poll_interval)

    async def run_once(self) -> int:
        """One batch; how many mails were claimed."""
        if not await self._queue.any_due(now_ms()):
            return 0
        claimed = await self._queue.claim(self._process_id, limit=self._batch, lease_ms=self._lease_ms)
        if not claimed:
            return 0
        outcomes: list[Outcome] = []
        ready: list[tuple[QueuedMail, Outgoing]] = []
        for mail in claimed:
            try:
                ready.append((mail, self._outgoing(mail)))
            except Exception as exc:
                # The mail itself is wrong (an address, its stored context, a value its template
                # cannot render): no retry can help, and the rest of the batch must still go.
                log.warning("mail %s (%s) cannot be composed: %s", mail.id, mail.kind, exc)
                outcomes.append(Outcome(mail.id, "dead", f"cannot compose: {exc}"[:500]))
        results = await self.transport.send([out for _, out in ready]) if ready else []
        for (mail, _), result in zip(ready, results, strict=True):
            outcomes.append(self._outcome(mail, result))
        await self._queue.settle(self._process_id, outcomes)
        return len(claimed)

    def _outgoing(self, mail: QueuedMail) -> Outgoing:
        s = self._settings
        context = dict(mail.context)
        unsubscribe = None
        if mail.marketing and mail.customer_id is not None:
            unsubscribe = context["unsubscribe_url"] = self._links.unsubscribe(mail.customer_id)
        rendered = self._templates.render(mail.kind, context)
        reply_to = context.get("reply_to")
        envelope = Envelope(
            sender=self._sender,
            recipient=mailbox(mail.recipient_name, mail.recipient),
            reply_to=mailbox(s.mail_from_name, reply_to) if isinstance(reply_to, str) else None,
            message_id=mail.message_id,
            in_reply_to=mail.in_reply_to,
            refs=mail.refs,
            unsubscribe_url=unsubscribe,
        )
        return Outgoing(mail.id, s.mail_from, mail.recipient, compose(envelope, rendered))

    def _outcome(self, mail: QueuedMail, result: Result) -> Outcome:
        if result.outcome == "sent":
            return Outcome(mail.id, "sent")
        if result.outcome == "permanent" or mail.attempts >= self._settings.mail_max_attempts:
            log.warning(
                "mail %s (%s) is a dead letter after %d tries: %s", mail.id, mail.kind, mail.attempts, result.error
            )
            return Outcome(mail.id, "dead", result.error)
        backoff = min(_MAX_BACKOFF_S, self._settings.mail_retry_base * 2 ** (mail.attempts - 1))
        retry_at = now_ms() + int(backoff * random.uniform(0.8, 1.2) * 1000)  # noqa: S311 - jitter, not secrecy
        return Outcome(mail.id, "retry", result.error, retry_at)
