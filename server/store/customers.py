"""Customers: anonymous visitors and identified shop customers (the shop's user id)."""

from __future__ import annotations

from typing import Any

import msgspec

from server.ids import new_id, now_ms
from server.store.db import Database, Row, Tx, record, records


class CustomerRecord(msgspec.Struct):
    id: str
    external_id: str | None
    name: str | None
    email: str | None
    # Read with the record: the widget's welcome greets with them (one read less per connect).
    loyalty_points: int = 0
    tier: str | None = None
    marketing_consent: bool = False


# The record's fields, in its order: the columns every record query selects.
_FIELDS = ("id", "external_id", "name", "email", "loyalty_points", "tier", "marketing_consent")
_COLUMNS = ", ".join(_FIELDS)


def _record(row: Row) -> CustomerRecord:
    return record(row, CustomerRecord)


class CustomerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def by_id(self, customer_id: str) -> CustomerRecord | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM customers WHERE id = ?", (customer_id,))
        return _record(row) if row else None

    @staticmethod
    def ensure(tx: Tx, customer_id: str) -> None:
        """In the caller's transaction: the record of an anonymous visitor, made when they first
        write (a visitor who only looks leaves nothing stored)."""
        tx.execute("INSERT OR IGNORE INTO customers (id, created_at) VALUES (?, ?)", (customer_id, now_ms()))

    async def identify(
        self, external_id: str, *, name: str | None, email: str | None, visitor_id: str | None
    ) -> CustomerRecord:
        """The customer record of a verified shop user, joining the visitor's history to it.

        If the shop user is new here and the visitor is anonymous, the visitor row itself becomes
        the customer (same id, nothing moves); otherwise the visitor's conversations move over.
        """
        if visitor_id is None:
            # The common case, a known customer coming back: a read, not a write transaction.
            row = await self.db.fetchone(
                f"SELECT {_COLUMNS} FROM customers WHERE external_id = ?", (external_id,)
            )
            known = _record(row) if row else None
            if known is not None and name in (None, known.name) and email in (None, known.email):
                return known

        def work(tx: Tx) -> CustomerRecord:
            existing = _one(
                tx, f"SELECT {_COLUMNS} FROM customers WHERE external_id = ?", (external_id,)
            )
            visitor = None
            unstored_visitor = False
            if visitor_id is not None:
                visitor = _one(tx, f"SELECT {_COLUMNS} FROM customers WHERE id = ?", (visitor_id,))
                # A visitor who never wrote has no row yet (chat/visitors.py): their id is ours all the same.
                unstored_visitor = visitor is None
                if visitor is not None and visitor.external_id is not None:
                    visitor = None  # already someone's record: a visitor token cannot claim it
            if existing is None and visitor is not None:
                tx.execute("UPDATE customers SET external_id = ? WHERE id = ?", (external_id, visitor.id))
                customer_id = visitor.id
            elif existing is None:
                # The visitor's id becomes the customer's, so their token stops opening anything.
                customer_id = visitor_id if unstored_visitor and visitor_id is not None else new_id("cu")
                tx.execute(
                    "INSERT INTO customers (id, external_id, created_at) VALUES (?, ?, ?)",
                    (customer_id, external_id, now_ms()),
                )
            else:
                customer_id = existing.id
                if visitor is not None and visitor.id != existing.id:
                    tx.execute(
                        "UPDATE conversations SET customer_id = ? WHERE customer_id = ?", (existing.id, visitor.id)
                    )
                    # The pages that led them to log in are theirs too (the customer panel shows them).
                    tx.execute("UPDATE page_views SET customer_id = ? WHERE customer_id = ?", (existing.id, visitor.id))
            if name is not None or email is not None:
                tx.execute(
                    "UPDATE customers SET name = COALESCE(?, name), email = COALESCE(?, email) WHERE id = ?",
                    (name, email, customer_id),
                )
            found = _one(tx, f"SELECT {_COLUMNS} FROM customers WHERE id = ?", (customer_id,))
            assert found is not None  # noqa: S101 - written just above in the same transaction
            return found

        return await self.db.write(work)


def _one(tx: Tx, sql: str, params: tuple[object, ...]) -> CustomerRecord | None:
    row = tx.execute(sql, params).fetchone()
    return _record(row) if row else None


_PUSH_COLUMNS = (
    "id, external_id, name, email, loyalty_points, tier, birthday, last_order_at, total_spent, tags,"
    " marketing_consent, timezone, locale, attributes, created_at"
)


class CustomerDetails(msgspec.Struct):
    """Everything the shop told about a customer: what segments target and templates greet with.

    Built by `record` from the columns of `_PUSH_COLUMNS` (tags and attributes are JSON text in
    the store, a list and a dict here).
    """

    id: str
    external_id: str | None
    name: str | None
    email: str | None
    loyalty_points: int
    tier: str | None
    birthday: str | None  # ISO date
    last_order_at: int | None  # UTC ms
    total_spent: float
    tags: list[str]
    marketing_consent: bool
    timezone: str  # IANA name
    locale: str | None
    attributes: dict[str, Any]
    created_at: int


def details_columns(table: str) -> str:
    """The columns a `CustomerDetails` is read from, qualified by `table` (a name or alias)."""
    return ", ".join(f"{table}.{field}" for field in CustomerDetails.__struct_fields__)


class CustomerAttributesStore:
    """The attributes the push engine targets by; written by the shop's back end.

    Guarantees: `upsert_many` is one transaction (all of its customers or none); a customer is
    created once per shop id however many callers race (the UNIQUE external_id decides), and a
    field not named in an upsert keeps its stored value. Reads see committed data only.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, external_id: str) -> CustomerDetails | None:
        row = await self.db.fetchone(f"SELECT {_PUSH_COLUMNS} FROM customers WHERE external_id = ?", (external_id,))
        return record(row, CustomerDetails) if row else None

    async def search(self, text: str, limit: int) -> list[CustomerDetails]:
        """Identified customers whose shop id, name or e-mail contains `text` (case-insensitive
        for ASCII), by the shop's id; the first `limit`."""
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await self.db.fetchall(
            f"SELECT {_PUSH_COLUMNS} FROM customers WHERE external_id IS NOT NULL"
            " AND (external_id LIKE ?1 ESCAPE '\\' OR name LIKE ?1 ESCAPE '\\' OR email LIKE ?1 ESCAPE '\\')"
            " ORDER BY external_id LIMIT ?2",
            (like, limit),
        )
        return records(rows, CustomerDetails)

    async def by_ids(self, customer_ids: list[str]) -> list[CustomerDetails]:
        found: list[CustomerDetails] = []
        for start in range(0, len(customer_ids), 500):
            chunk = customer_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(f"SELECT {_PUSH_COLUMNS} FROM customers WHERE id IN ({marks})", chunk)
            found += records(rows, CustomerDetails)
        return found

    async def set_consent(self, customer_id: str, consent: bool, source: str) -> bool | None:
        """An identified customer's marketing consent, kept with its time and source (GDPR Art. 7);
        the consent as stored now, None when there is no such identified customer."""
        rows = await self.db.run_returning(
            "UPDATE customers SET marketing_consent = ?, consent_changed_at = ?, consent_source = ?, updated_at = ?"
            " WHERE id = ? AND external_id IS NOT NULL RETURNING marketing_consent",
            (int(consent), now_ms(), source, now_ms(), customer_id),
        )
        return bool(rows[0][0]) if rows else None

    async def upsert_many(self, items: list[tuple[str, dict[str, object]]]) -> tuple[int, int]:
        """Insert or update customers by the shop's id, in one transaction: (created, updated)."""
        now = now_ms()

        def work(tx: Tx) -> tuple[int, int]:
            created = updated = 0
            for external_id, columns in items:
                row = tx.execute("SELECT id FROM customers WHERE external_id = ?", (external_id,)).fetchone()
                if row is None:
                    customer_id = new_id("cu")
                    tx.execute(
                        "INSERT INTO customers (id, external_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
                        (customer_id, external_id, now, now),
                    )
                    created += 1
                else:
                    customer_id = row[0]
                    updated += 1
                if columns:
                    # Column names come from the CustomerIn model's fields, never from input.
                    assignments = ", ".join(f"{name} = ?" for name in columns)
                    tx.execute(
                        f"UPDATE customers SET {assignments}, updated_at = ? WHERE id = ?",
                        (*columns.values(), now, customer_id),
                    )
            return created, updated

        return await self.db.write(work)

    async def contact_of(self, customer_id: str) -> str | None:
        """A customer's e-mail address ("" when they have none); None when there is no such customer."""
        row = await self.db.fetchone("SELECT COALESCE(email, '') AS email FROM customers WHERE id = ?", (customer_id,))
        return str(row["email"]) if row else None

    async def withdraw_marketing(self, customer_id: str, source: str) -> bool:
        """Marketing consent off, with when and who said so (kept as it was if already off);
        False when there is no such customer."""

        def work(tx: Tx) -> bool:
            if tx.execute("SELECT 1 FROM customers WHERE id = ?", (customer_id,)).fetchone() is None:
                return False
            now = now_ms()
            tx.execute(
                "UPDATE customers SET marketing_consent = 0, consent_changed_at = ?, consent_source = ?, updated_at = ?"
                " WHERE id = ? AND marketing_consent = 1",
                (now, source, now, customer_id),
            )
            return True

        return await self.db.write(work)
