"""The mail queue as admins see it: how much waits, what was sent, the dead letters, a retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import msgspec

from server.errors import Problem
from server.protocol import ErrorCode
from server.store.mail_queue import MailQueueStore, MailRow

Status = Literal["queued", "sent", "dead", "suppressed"]


class MailCounts(msgspec.Struct):
    queued: int = 0
    sent: int = 0
    dead: int = 0
    suppressed: int = 0


class MailItem(msgspec.Struct):
    id: str
    kind: str
    marketing: bool
    recipient: str
    status: str
    attempts: int
    next_attempt_at: int
    last_error: str | None
    created_at: int
    sent_at: int | None


class MailList(msgspec.Struct):
    counts: MailCounts
    mails: list[MailItem]


def _item(row: MailRow) -> MailItem:
    return MailItem(**msgspec.structs.asdict(row))


class MailQueue:
    def __init__(self, store: MailQueueStore, queued: Callable[[], None]) -> None:
        self._store = store
        self._queued = queued

    async def listing(self, status: Status, limit: int) -> MailList:
        counts = MailCounts(**await self._store.counts())
        return MailList(counts=counts, mails=[_item(r) for r in await self._store.listing(status, limit)])

    async def retry(self, mail_id: str) -> MailItem:
        """A dead letter queued again, due now."""
        if not await self._store.retry(mail_id):
            found = await self._store.get(mail_id)
            if found is None:
                raise Problem(ErrorCode.NOT_FOUND, f"no mail {mail_id}")
            raise Problem(ErrorCode.CONFLICT, f"mail {mail_id} is {found.status}, not a dead letter")
        self._queued()
        found = await self._store.get(mail_id)
        assert found is not None  # noqa: S101 - just changed
        return _item(found)
