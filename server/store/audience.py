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

import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NamedTuple

import msgspec

from server.ids import now_ms
from server.store.customers import CustomerDetails, details_columns
from server.store.db import Database, records

Op = Literal[
    "eq",
    "ne",
    "in",
    "gt",
    "gte",
    "lt",
    "lte",
    "days_since_gt",
    "days_since_lt",
    "has_tag",
    "exists",
    "contains",
    "month_is",
]
Scalar = Annotated[str, msgspec.Meta(max_length=200)] | int | float | bool

# Fields a rule may name, and the SQL expression each one reads. Nothing else reaches SQL text.
_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("customers.name", "text"),
    "email": ("customers.email", "text"),
    "loyalty_points": ("customers.loyalty_points", "number"),
    "tier": ("customers.tier", "text"),
    "birthday": ("customers.birthday", "date"),
    "last_order_at": ("customers.last_order_at", "time"),
    "created_at": ("customers.created_at", "time"),
    "total_spent": ("customers.total_spent", "number"),
    "tags": ("customers.tags", "tags"),
    "marketing_consent": ("customers.marketing_consent", "bool"),
    "timezone": ("customers.timezone", "text"),
    "locale": ("customers.locale", "text"),
    # What Rapport itself sees of a customer: behaviour, read through the indexes of the tables
    # that keep it (one index lookup per customer, never a scan of those tables).
    "last_seen_at": ("(SELECT s.at FROM customer_seen s WHERE s.customer_id = customers.id)", "time"),
    "pages_viewed": ("(SELECT COUNT(*) FROM page_views p WHERE p.customer_id = customers.id)", "count"),
    "viewed_page": ("customers.id", "page"),
    "vouchers_redeemed": (
        "(SELECT COUNT(*) FROM vouchers v WHERE v.customer_id = customers.id AND v.redeemed_at IS NOT NULL)",
        "count",
    ),
}
FIELDS = tuple(_COLUMNS)
# The operators each kind of field takes, in the order a rule builder offers them. A custom
# attribute (`attributes.<name>`) is `any`: its values are whatever the shop sent.
OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "text": ("eq", "ne", "in", "contains", "exists"),
    "number": ("gte", "lte", "gt", "lt", "eq", "ne"),
    "count": ("gte", "lte", "gt", "lt", "eq", "ne"),
    "time": ("days_since_gt", "days_since_lt", "exists"),
    "tags": ("has_tag", "exists"),
    "bool": ("eq", "ne"),
    "date": ("month_is", "eq", "lt", "gt", "exists"),
    "page": ("contains",),
    "any": ("eq", "ne", "in", "gt", "gte", "lt", "lte", "contains", "exists"),
}
# Which fields are the shop's and which are behaviour Rapport sees (for the builder's groups).
BEHAVIOUR = ("last_seen_at", "pages_viewed", "viewed_page", "vouchers_redeemed")


def field_kind(field: str) -> str:
    """The kind of a field a rule may name (`_COLUMNS`'s, `any` for a custom attribute)."""
    return _COLUMNS[field][1]
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
    sql, params, _cost = _compile(selection, 0, [0])
    return sql, params


def _compile(c: Condition, depth: int, counter: list[int]) -> tuple[str, list[Any], int]:
    """SQL, its parameters, and how dear it is to test per customer (0: a column of the row,
    1: JSON in the row, 2: a lookup in another table)."""
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
        # SQLite tests the terms of AND and OR in the order written and stops at the first that
        # decides: the cheap ones first, so a lookup runs only for the rows they leave undecided.
        compiled = sorted((_compile(p, depth + 1, counter) for p in parts), key=lambda part: part[2])
        params = [value for _sql, part_params, _cost in compiled for value in part_params]
        return "(" + joiner.join(sql for sql, _p, _c in compiled) + ")", params, max(cost for *_x, cost in compiled)
    params = []
    sql = _rule(c, params)
    return sql, params, _cost_of(c.field or "")


def _cost_of(field: str) -> int:
    if field in _COLUMNS:
        return 2 if field in BEHAVIOUR else 1 if _COLUMNS[field][1] == "tags" else 0
    return 1


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
    # Behaviour fields and `contains` are checked against the builder's list; the older kinds
    # keep the checks below, so rules stored before the list existed still compile.
    if (kind in ("count", "page") or op in ("contains", "month_is")) and op not in OPS_BY_KIND[kind]:
        raise BadRule(f"{c.field} does not take {op}; it takes {', '.join(OPS_BY_KIND[kind])}")
    if op == "exists":
        return f"{column} IS NOT NULL"
    if value is None:
        raise BadRule(f"{op} needs a value")
    if op == "has_tag":
        if kind != "tags" or not isinstance(value, str):
            raise BadRule("has_tag works on `tags` with one tag as value")
        if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
            # Tags are stored as json.dumps writes them: the quoted tag is in the text, which a
            # substring search finds without parsing JSON; the exact test then confirms it.
            params += [json.dumps(value), value]
            return (
                "(instr(customers.tags, ?) > 0"
                " AND EXISTS (SELECT 1 FROM json_each(customers.tags) WHERE json_each.value = ?))"
            )
        params.append(value)
        return "EXISTS (SELECT 1 FROM json_each(customers.tags) WHERE json_each.value = ?)"
    if op == "contains":
        if not isinstance(value, str) or not value:
            raise BadRule("contains needs some text")
        params.append(value)
        if kind == "page":
            # Any of the pages kept for the customer (RAPPORT_PAGE_VIEWS_KEPT) whose address has it.
            return "EXISTS (SELECT 1 FROM page_views p WHERE p.customer_id = customers.id AND instr(p.url, ?) > 0)"
        return f"instr(lower({column}), lower(?)) > 0"
    if kind == "tags":
        raise BadRule("`tags` supports has_tag and exists")
    if op == "month_is":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 12:
            raise BadRule("month_is needs a month, 1 to 12")
        params.append(value)
        # Dates are stored as the shop sent them, ISO (YYYY-MM-DD): the month is characters 6-7.
        return f"CAST(substr({column}, 6, 2) AS INTEGER) = ?"
    if op in ("days_since_gt", "days_since_lt"):
        if kind != "time" or isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise BadRule(f"{op} works on last_order_at or created_at (or last_seen_at) with a number of days")
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
    if kind in ("number", "count", "time") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise BadRule("this field compares with a number")
    return value


_DETAILS = details_columns("customers")
# Custom attribute keys the builder offers: at most this many, the most used first.
_KEYS_SHOWN = 200


class AttributeKey(msgspec.Struct):
    """A custom attribute the shop has sent, and what its values look like."""

    key: str
    kind: Literal["text", "number", "bool"]
    customers: int


def attribute_field(key: str) -> str | None:
    """`attributes.<key>` if a rule may name it (letters, digits, `_`), else None."""
    field = f"attributes.{key}"
    return field if _ATTRIBUTE.match(field) else None


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

    async def attribute_keys(self) -> list[AttributeKey]:
        """The custom attribute keys set on identified customers, with the kind of their values:
        a number or a yes/no when every value is one, else text."""
        rows = await self.db.fetchall(
            "SELECT j.key AS key, COUNT(*) AS n,"
            " SUM(j.type IN ('integer', 'real')) AS numbers, SUM(j.type IN ('true', 'false')) AS flags"
            " FROM customers, json_each(customers.attributes) j"
            " WHERE customers.external_id IS NOT NULL AND customers.attributes != '{}' AND j.type != 'null'"
            " GROUP BY j.key ORDER BY n DESC, j.key LIMIT ?",
            [_KEYS_SHOWN],
        )
        found = []
        for row in rows:
            if attribute_field(row["key"]) is None:
                continue
            n = int(row["n"])
            kind: Literal["text", "number", "bool"] = (
                "number" if row["numbers"] == n else "bool" if row["flags"] == n else "text"
            )
            found.append(AttributeKey(key=row["key"], kind=kind, customers=n))
        return found

    async def common_values(self) -> dict[str, list[str]]:
        """The tiers and tags customers have, the most held first (at most 20 each): what a
        builder suggests as values."""
        tiers = await self.db.fetchall(
            "SELECT tier AS value FROM customers WHERE external_id IS NOT NULL AND tier IS NOT NULL"
            " GROUP BY tier ORDER BY COUNT(*) DESC, tier LIMIT 20"
        )
        tags = await self.db.fetchall(
            "SELECT j.value AS value FROM customers, json_each(customers.tags) j"
            " WHERE customers.external_id IS NOT NULL AND customers.tags != '[]' AND j.type = 'text'"
            " GROUP BY j.value ORDER BY COUNT(*) DESC, j.value LIMIT 20"
        )
        return {"tier": [row["value"] for row in tiers], "tags": [row["value"] for row in tags]}

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
        self, selection: Selection, date_field: str, days: Sequence[str], limit: int, after: str | None = None
    ) -> list[CustomerDetails]:
        """Selected customers whose date `date_field` (`birthday`, or `attributes.<name>` holding
        YYYY-MM-DD or MM-DD) falls on one of `days` (MM-DD), by the shop's id, at most `limit`,
        those after the shop's id `after` (the next page)."""
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
            f"SELECT {_DETAILS} FROM customers WHERE external_id IS NOT NULL AND external_id > ?"
            f" AND ({day} IN ({','.join('?' * len(days))})) AND ({sql}) ORDER BY external_id LIMIT ?",
            [after or "", *days, *params, limit],
        )
        return records(rows, CustomerDetails)


class _Counted(CustomerDetails):
    """A customer with their recent marketing notifications, one count per cap."""

    recent_0: int = 0
    recent_1: int = 0


class Reach(NamedTuple):
    eligible: list[CustomerDetails]
    capped: list[str]  # internal ids of those selected but past a cap
