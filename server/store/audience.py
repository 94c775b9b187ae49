"""Who a segment or a campaign selects: rule trees and audiences compiled to SQL, in one place.

Guarantees:
- Only the column expressions of `_COLUMNS` and `attributes.<name>` (a name of letters, digits
  and `_`) ever reach SQL text; every value is a parameter. A rule that is not one of the known
  shapes raises `BadRule` before any SQL runs: it is never half applied.
- One compiled condition counts and lists a segment's members, and decides whether a customer
  belongs to a campaign's audience, so a preview and a delivery can never disagree.
- A selection is compiled when it is used, so "days since" counts from the time of the query.
- `eligible` reads committed data (the reader connection); what it returns is a first cut, cheap
  to compute for thousands of customers. The dedupe key and the daily cap are decided again by
  the inbox in the write transaction (store/inbox.py), which is what makes them hold under races.
- Only identified customers (with the shop's id) are ever selected.

The rule model (`Condition`) is defined here, with the compiler that reads it: services and the
API import it from here through `server.push.segments`, so imports go one way, api -> push -> store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NamedTuple

import msgspec

from server.ids import now_ms
from server.store.customers import CustomerDetails, details_columns
from server.store.db import Database, records

Op = Literal["eq", "ne", "in", "gt", "gte", "lt", "lte", "days_since_gt", "days_since_lt", "has_tag", "exists"]
Scalar = Annotated[str, msgspec.Meta(max_length=200)] | int | float | bool

# Fields a rule may name, and the SQL expression each one reads. Nothing else reaches SQL text.
_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("customers.name", "text"),
    "email": ("customers.email", "text"),
    "loyalty_points": ("customers.loyalty_points", "number"),
    "tier": ("customers.tier", "text"),
    "birthday": ("customers.birthday", "text"),
    "last_order_at": ("customers.last_order_at", "time"),
    "created_at": ("customers.created_at", "time"),
    "total_spent": ("customers.total_spent", "number"),
    "tags": ("customers.tags", "tags"),
    "marketing_consent": ("customers.marketing_consent", "bool"),
    "timezone": ("customers.timezone", "text"),
    "locale": ("customers.locale", "text"),
}
FIELDS = tuple(_COLUMNS)
_ATTRIBUTE = re.compile(r"^attributes\.([A-Za-z0-9_]{1,64})$")
_COMPARE = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_DAY_MS = 86_400_000
MAX_CONDITIONS = 50
MAX_DEPTH = 5
# Ids per `IN (...)`: well under SQLite's 32766 host parameters, with room for the audience's own.
_CHUNK = 500


class Condition(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Either a rule (`field`, `op`, `value`) or a group (`all` of / `any` of conditions).

    Examples: `{"field": "tier", "op": "in", "value": ["gold", "silver"]}`,
    `{"field": "last_order_at", "op": "days_since_gt", "value": 90}`,
    `{"field": "tags", "op": "has_tag", "value": "vip"}`,
    `{"all": [{...}, {"any": [{...}, {...}]}]}`.
    """

    field: Annotated[str, msgspec.Meta(max_length=80)] | None = None
    op: Op | None = None
    value: Scalar | Annotated[list[Scalar], msgspec.Meta(max_length=100)] | None = None
    all: Annotated[list[Condition], msgspec.Meta(max_length=MAX_CONDITIONS)] | None = None
    any: Annotated[list[Condition], msgspec.Meta(max_length=MAX_CONDITIONS)] | None = None


class Everyone(msgspec.Struct, frozen=True):
    """Every identified customer."""


class Listed(msgspec.Struct, frozen=True):
    """The customers with these shop ids."""

    external_ids: tuple[str, ...]


# What a campaign or a segment selects, as the push engine resolved it.
Selection = Everyone | Listed | Condition


class BadRule(ValueError):
    """A rule the compiler refuses; its text says why, for the marketer."""


def check(condition: Condition) -> None:
    """Raise BadRule unless `condition` compiles."""
    where(condition)


def where(selection: Selection) -> tuple[str, list[Any]]:
    """SQL over `customers` and its parameters; raises BadRule for a rule that is not valid."""
    if isinstance(selection, Everyone):
        return "1 = 1", []
    if isinstance(selection, Listed):
        ids = list(selection.external_ids)
        if not ids:
            return "0 = 1", []
        return f"customers.external_id IN ({','.join('?' * len(ids))})", ids
    params: list[Any] = []
    sql = _compile(selection, params, 0, [0])
    return sql, params


def _compile(c: Condition, params: list[Any], depth: int, counter: list[int]) -> str:
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise BadRule(f"more than {MAX_CONDITIONS} conditions")
    if depth > MAX_DEPTH:
        raise BadRule(f"groups nested deeper than {MAX_DEPTH}")
    shapes = [c.field is not None or c.op is not None, c.all is not None, c.any is not None]
    if sum(shapes) != 1:
        raise BadRule("a condition is either a rule (field, op, value) or one group (all / any)")
    if c.all is not None or c.any is not None:
        parts = c.all if c.all is not None else c.any
        assert parts is not None  # noqa: S101
        if not parts:
            raise BadRule("an empty group")
        joiner = " AND " if c.all is not None else " OR "
        return "(" + joiner.join(_compile(p, params, depth + 1, counter) for p in parts) + ")"
    return _rule(c, params)


def _rule(c: Condition, params: list[Any]) -> str:
    if c.field is None or c.op is None:
        raise BadRule("a rule needs a field and an op")
    match = _ATTRIBUTE.match(c.field)
    if match:
        column, kind = f"json_extract(customers.attributes, '$.{match.group(1)}')", "any"
    elif c.field in _COLUMNS:
        column, kind = _COLUMNS[c.field]
    else:
        raise BadRule(f"unknown field {c.field!r}; known: {', '.join(_COLUMNS)}, attributes.<name>")
    op, value = c.op, c.value
    if op == "exists":
        return f"{column} IS NOT NULL"
    if value is None:
        raise BadRule(f"{op} needs a value")
    if op == "has_tag":
        if kind != "tags" or not isinstance(value, str):
            raise BadRule("has_tag works on `tags` with one tag as value")
        params.append(value)
        return "EXISTS (SELECT 1 FROM json_each(customers.tags) WHERE json_each.value = ?)"
    if kind == "tags":
        raise BadRule("`tags` supports has_tag and exists")
    if op in ("days_since_gt", "days_since_lt"):
        if kind != "time" or isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise BadRule(f"{op} works on last_order_at or created_at with a number of days")
        params += [now_ms(), int(value * _DAY_MS)]
        # A customer who never ordered has no "days since": they are in neither side.
        return f"({column} IS NOT NULL AND (? - {column}) {'>' if op == 'days_since_gt' else '<'} ?)"
    if op == "in":
        if not isinstance(value, list) or not value:
            raise BadRule("in needs a non-empty list")
        params += [_sql_value(v, kind) for v in value]
        return f"{column} IN ({','.join('?' * len(value))})"
    if isinstance(value, list):
        raise BadRule(f"{op} needs one value, not a list")
    if op in ("gt", "gte", "lt", "lte") and kind in ("text", "bool") and c.field != "birthday":
        raise BadRule(f"{op} compares numbers, times or dates; {c.field} is {kind}")
    params.append(_sql_value(value, kind))
    return f"{column} {_COMPARE[op]} ?"


def _sql_value(value: Scalar, kind: str) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise BadRule("a yes/no field compares with true or false")
        return int(value)
    if kind in ("number", "time") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise BadRule("this field compares with a number")
    return value


_DETAILS = details_columns("customers")


class AudienceStore:
    """Customers by selection: counted, listed, tested one by one, and eligible for a campaign."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def count(self, selection: Selection) -> int:
        sql, params = where(selection)
        row = await self.db.fetchone(
            f"SELECT COUNT(*) AS n FROM customers WHERE external_id IS NOT NULL AND {sql}", params
        )
        return int(row["n"]) if row else 0

    async def members(self, selection: Selection, limit: int, offset: int) -> list[CustomerDetails]:
        """A page of the selected customers, by the shop's id."""
        sql, params = where(selection)
        rows = await self.db.fetchall(
            f"SELECT {_DETAILS} FROM customers WHERE external_id IS NOT NULL AND {sql}"
            " ORDER BY external_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return records(rows, CustomerDetails)

    async def includes(self, customer_id: str, selection: Selection) -> bool:
        """Whether the selection holds this customer (consent and caps aside)."""
        sql, params = where(selection)
        row = await self.db.fetchone(f"SELECT 1 FROM customers WHERE id = ? AND ({sql})", [customer_id, *params])
        return row is not None

    async def eligible(
        self,
        customer_ids: Sequence[str],
        selection: Selection,
        *,
        daily_cap: int,
        dedupe_key: str,
    ) -> list[CustomerDetails]:
        """Of these customers (internal ids), those a marketing campaign may reach now:
        identified, consenting to marketing, selected, not holding `dedupe_key` yet, and under
        `daily_cap` marketing notifications in the last 24 hours."""
        since = now_ms() - _DAY_MS
        reach = await self.reach(customer_ids, selection, caps=[(daily_cap, since)], dedupe_key=dedupe_key)
        return reach.eligible

    async def reach(
        self,
        customer_ids: Sequence[str],
        selection: Selection,
        *,
        caps: Sequence[tuple[int, int]],
        dedupe_key: str,
        consent_required: bool = True,
    ) -> Reach:
        """Of these customers (internal ids), those a campaign may reach now, and those it holds
        back for a cap. Reached: identified, selected, not holding `dedupe_key` yet, consenting to
        marketing if `consent_required`, and under every cap: (at most this many marketing
        notifications, stored after this time in ms). Held back: the same but past a cap."""
        sql, params = where(selection)
        consent = "AND marketing_consent = 1" if consent_required else ""
        if len(caps) > 2:
            raise ValueError("at most two caps")
        counts = "".join(
            f", (SELECT COUNT(*) FROM notifications n WHERE n.customer_id = customers.id AND n.marketing = 1"
            f" AND n.created_at > ?) AS recent_{i}"
            if i < len(caps)
            else f", 0 AS recent_{i}"
            for i in range(2)
        )
        reached: list[CustomerDetails] = []
        capped: list[str] = []
        for start in range(0, len(customer_ids), _CHUNK):
            chunk = list(customer_ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetchall(
                f"""
                SELECT {_DETAILS}{counts} FROM customers
                WHERE id IN ({marks}) AND external_id IS NOT NULL {consent} AND ({sql})
                  AND NOT EXISTS (SELECT 1 FROM notifications n
                                  WHERE n.customer_id = customers.id AND n.dedupe_key = ?)
                """,
                [*(since for _, since in caps), *chunk, *params, dedupe_key],
            )
            for found in records(rows, _Counted):
                recent = (found.recent_0, found.recent_1)
                if any(recent[i] >= limit for i, (limit, _) in enumerate(caps)):
                    capped.append(found.id)
                else:
                    reached.append(found)
        return Reach(reached, capped)

    async def on_days(
        self, selection: Selection, date_field: str, days: Sequence[str], limit: int
    ) -> list[CustomerDetails]:
        """Selected customers whose date `date_field` (`birthday`, or `attributes.<name>` holding
        YYYY-MM-DD or MM-DD) falls on one of `days` (MM-DD), by the shop's id, at most `limit`."""
        match = _ATTRIBUTE.match(date_field)
        if match:
            day = f"substr(json_extract(customers.attributes, '$.{match.group(1)}'), -5)"
        elif date_field == "birthday":
            # The expression (and condition) of the customers_birthday_day index.
            day = "customers.birthday IS NOT NULL AND substr(customers.birthday, 6, 5)"
        else:
            raise BadRule(f"{date_field!r} is not a date field; use birthday or attributes.<name>")
        if not days:
            return []
        sql, params = where(selection)
        rows = await self.db.fetchall(
            f"SELECT {_DETAILS} FROM customers WHERE external_id IS NOT NULL AND {day} IN ({','.join('?' * len(days))})"
            f" AND ({sql}) ORDER BY external_id LIMIT ?",
            [*days, *params, limit],
        )
        return records(rows, CustomerDetails)


class _Counted(CustomerDetails):
    """A customer with their recent marketing notifications, one count per cap."""

    recent_0: int = 0
    recent_1: int = 0


class Reach(NamedTuple):
    eligible: list[CustomerDetails]
    capped: list[str]  # internal ids of those selected but past a cap
