"""The lean stand-ins for uvicorn's per-connection asyncio.Queue and asyncio.Event behave like them."""

from __future__ import annotations

import asyncio
import contextlib

from server.ws.transport import _Flag, _Received


async def test_received_keeps_order_and_wakes_a_waiting_reader() -> None:
    queue = _Received()
    assert queue.empty()
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not reader.done()
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert await reader == 1
    assert not queue.empty()
    assert await queue.get() == 2
    assert queue.empty() and queue._items is None  # nothing held while idle


async def test_a_cancelled_reader_leaves_the_queue_usable() -> None:
    queue = _Received()
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    queue.put_nowait("after")
    assert await asyncio.wait_for(queue.get(), 1) == "after"


async def test_flag_wakes_every_waiter_and_clears() -> None:
    flag = _Flag()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True, True]
    assert flag._waiters is None
    flag.clear()
    assert not flag.is_set()
    late = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    late.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await late
    assert not flag._waiters
    flag.set()
    assert await asyncio.wait_for(flag.wait(), 1) is True
