"""The pages a customer came through, for the agent's customer panel.

A customer with a record (identified by the shop, or a visitor who has written) has their last
`page_views_kept` views stored. A visitor who has not written has no record, and gets none for
browsing (chat/visitors.py): their views wait here, in this process's memory, and are stored
when they first write, so the agent sees the pages that led to the question. The waiting views
are bounded (WAITING_VISITORS visitors, the least recently seen forgotten first) and lost with the
process, or when the visitor's next page loads on another process: a view is a hint, not a record.
"""

from __future__ import annotations

from collections import OrderedDict

from server.ids import now_ms
from server.settings import Settings
from server.store.page_views import PageViewStore, PageVisit

# Visitors whose views are held until they write: bounded, so that browsing alone cannot grow
# the process (20 views of at most 2,300 characters each: ~90 MB at the very worst, ~2 MB usually).
WAITING_VISITORS = 2_000

__all__ = ["PageViews", "PageVisit"]


class PageViews:
    def __init__(self, store: PageViewStore, settings: Settings) -> None:
        self._store = store
        self._keep = settings.page_views_kept
        self._waiting: OrderedDict[str, list[PageVisit]] = OrderedDict()

    async def viewed(self, customer_id: str, url: str, title: str | None, *, recorded: bool) -> None:
        """A page view from the widget; `recorded`: the customer has a record (else it waits)."""
        visit = PageVisit(url=url, title=title or None, at=now_ms())
        if recorded and await self._store.add(customer_id, [visit], self._keep):
            return
        held = self._waiting.pop(customer_id, [])
        held.append(visit)
        self._waiting[customer_id] = held[-self._keep :]
        while len(self._waiting) > WAITING_VISITORS:
            self._waiting.popitem(last=False)

    async def recorded(self, customer_id: str) -> None:
        """The visitor has a record now (they wrote): the views they came through are stored."""
        held = self._waiting.pop(customer_id, None)
        if held:
            await self._store.add(customer_id, held, self._keep)

    async def latest(self, customer_id: str, limit: int) -> list[PageVisit]:
        return await self._store.latest(customer_id, limit)
