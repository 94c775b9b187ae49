"""The pages customers came through (the widget's page.view frames), the latest few per customer.

Guarantees: a customer keeps at most `keep` views (the oldest go in the transaction that adds
new ones); views are stored only for a customer record that exists (a visitor who never wrote
has none: `add` stores nothing and says so); reads see committed data only.
"""

from __future__ import annotations

import msgspec

from server.store.db import Database, Tx, records


class PageVisit(msgspec.Struct, frozen=True):
    url: str
    title: str | None
    at: int


class PageViewStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, customer_id: str, views: list[PageVisit], keep: int) -> bool:
        """Store these views (oldest first); False, and nothing stored, when the customer has no record."""

        def work(tx: Tx) -> bool:
            if tx.execute("SELECT 1 FROM customers WHERE id = ?", (customer_id,)).fetchone() is None:
                return False
            tx.executemany(
                "INSERT INTO page_views (customer_id, url, title, at) VALUES (?, ?, ?, ?)",
                [(customer_id, v.url, v.title, v.at) for v in views],
            )
            tx.execute(
                "DELETE FROM page_views WHERE customer_id = ? AND id NOT IN"
                " (SELECT id FROM page_views WHERE customer_id = ? ORDER BY at DESC, id DESC LIMIT ?)",
                (customer_id, customer_id, keep),
            )
            return True

        stored: bool = await self.db.write(work)
        return stored

    async def latest(self, customer_id: str, limit: int) -> list[PageVisit]:
        """The customer's latest views, newest first."""
        rows = await self.db.fetchall(
            "SELECT url, title, at FROM page_views WHERE customer_id = ? ORDER BY at DESC, id DESC LIMIT ?",
            (customer_id, limit),
        )
        return records(rows, PageVisit)
