"""Python's cycle collector, paced for a process that holds thousands of long-lived connections.

CPython runs a full collection whenever the objects that survived the young generations have
grown by a quarter since the last one, and a full collection walks every tracked object. While
10k sockets connect (a deploy's reconnect storm), that is a dozen full walks of an ever larger
heap: measured here, 6 of the ~35 seconds it took, in stalls of up to 0.7 s each
(bench/README.md). What those walks find is almost nothing: a connection's objects are freed by
reference counting when it closes, and the young generations, still collected by CPython as
before, catch the short-lived cycles.

So the full collection runs on a clock instead (`RAPPORT_GC_FULL_INTERVAL`, 0 keeps CPython's
own schedule): the stall is paid once per interval, and cyclic garbage that outlives the young
generations waits at most that long. Each run is logged with its duration and what it freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time

log = logging.getLogger("rapport.collector")

# The oldest generation's threshold counts collections of the middle one; this many never comes.
_NEVER = 1 << 30


class Collector:
    # The thresholds are the process's: with several nodes in one process (tests), the first to
    # start keeps CPython's and the last to stop puts them back.
    _running = 0
    _saved: tuple[int, int, int] = gc.get_threshold()

    def __init__(self, full_interval: float) -> None:
        self._interval = full_interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._interval <= 0 or self._task is not None:
            return
        if Collector._running == 0:
            Collector._saved = gc.get_threshold()
            young, middle, _old = Collector._saved
            gc.set_threshold(young, middle, _NEVER)
        Collector._running += 1
        self._task = asyncio.create_task(self._loop(), name="collector")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        Collector._running -= 1
        if Collector._running == 0:
            gc.set_threshold(*Collector._saved)

    def collect(self) -> tuple[int, float]:
        """One full collection now: (objects freed, seconds it took)."""
        began = time.perf_counter()
        freed = gc.collect()
        return freed, time.perf_counter() - began

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            freed, took = self.collect()
            log.info("full collection: %d unreachable objects freed in %.0f ms", freed, took * 1000)
