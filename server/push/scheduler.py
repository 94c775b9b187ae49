"""The clock of the push engine: runs due jobs (scheduled campaigns, reminders, mail) on every process.

Each job claims its work in one write transaction (a conditional UPDATE), so however many
processes run the scheduler, each campaign starts and each reminder fires exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("rapport.scheduler")

# A job may return what it did (counted in tests); the scheduler only awaits it.
Job = Callable[[], Awaitable[object]]


class Scheduler:
    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._jobs: list[tuple[str, Job]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, name: str, job: Job) -> None:
        self._jobs.append((name, job))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="push-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> None:
        for name, job in self._jobs:
            try:
                await job()
            except Exception:
                log.exception("scheduler job %s failed", name)

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self._interval)
