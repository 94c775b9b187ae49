"""When customers were last on the site, for every process to read: each stamps its own.

A customer counts as gone once no process has stamped them for a while; each process stamps the
customers with a socket open on it every few seconds (a fraction of the offline-reply delay),
in one write to a narrow table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.hub import LocalDelivery
from server.ids import now_ms
from server.store.conversation_mail import ConversationMailStore

log = logging.getLogger("rapport.mail")


class CustomerSeen:
    def __init__(self, store: ConversationMailStore, local: LocalDelivery, interval: float) -> None:
        self._store = store
        self._local = local
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mail-customer-seen")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.stamp()  # those connected until now were here until now

    async def stamp(self) -> None:
        await self._store.stamp_seen(self._local.connected("customer"), now_ms())

    async def _loop(self) -> None:
        while True:
            try:
                await self.stamp()
            except Exception:
                log.exception("stamping connected customers failed")
            await asyncio.sleep(self._interval)
