"""The cycle collector on a clock: CPython's own full collections off while a node runs, back after."""

from __future__ import annotations

import asyncio
import gc

from server.collector import Collector


class Cycle:
    def __init__(self) -> None:
        self.me = self


def cycles_alive() -> int:
    return sum(isinstance(o, Cycle) for o in gc.get_objects())


async def test_full_collections_run_on_the_clock_and_free_cycles() -> None:
    before = gc.get_threshold()
    first, second = Collector(0.5), Collector(0.5)
    first.start()
    second.start()
    try:
        assert gc.get_threshold()[:2] == before[:2]
        assert gc.get_threshold()[2] > 1_000_000  # CPython never starts one itself
        held = [Cycle() for _ in range(1000)]
        gc.collect()  # they survive it: now in the oldest generation
        del held  # cyclic garbage there: only a full collection can free it
        churn = [[object()] for _ in range(200_000)]  # many young collections meanwhile
        del churn
        assert cycles_alive() == 1000
        await asyncio.sleep(0.8)  # the clock's full collection
        assert cycles_alive() == 0
        await first.stop()
        assert gc.get_threshold()[2] > 1_000_000  # the other node still runs
    finally:
        await first.stop()
        await second.stop()
    assert gc.get_threshold() == before


async def test_zero_keeps_cpythons_schedule() -> None:
    before = gc.get_threshold()
    collector = Collector(0)
    collector.start()
    assert gc.get_threshold() == before
    await collector.stop()
    assert gc.get_threshold() == before


def test_collect_reports_what_it_freed() -> None:
    gc.collect()
    for _ in range(10):
        Cycle()
    freed, took = Collector(0).collect()
    assert freed >= 10 and took >= 0
