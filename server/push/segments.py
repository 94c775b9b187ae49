"""Segments: rules on what the shop knows of its customers, compiled to one SQL condition.

The same compiled condition counts and lists a segment's members, and decides whether the
customers connected right now belong to a campaign's audience, so the two can never disagree.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode

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
_ATTRIBUTE = re.compile(r"^attributes\.([A-Za-z0-9_]{1,64})$")
_COMPARE = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_DAY_MS = 86_400_000
MAX_CONDITIONS = 50
MAX_DEPTH = 5


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


def _bad(message: str) -> Problem:
    return Problem(ErrorCode.INVALID_REQUEST, f"bad rule: {message}")


def compile_condition(condition: Condition) -> tuple[str, list[Any]]:
    """SQL (over `customers`) and its parameters; raises Problem(invalid_request) on a bad rule."""
    params: list[Any] = []
    counter = [0]
    sql = _compile(condition, params, 0, counter)
    return sql, params


def _compile(c: Condition, params: list[Any], depth: int, counter: list[int]) -> str:
    counter[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise _bad(f"more than {MAX_CONDITIONS} conditions")
    if depth > MAX_DEPTH:
        raise _bad(f"groups nested deeper than {MAX_DEPTH}")
    shapes = [c.field is not None or c.op is not None, c.all is not None, c.any is not None]
    if sum(shapes) != 1:
        raise _bad("a condition is either a rule (field, op, value) or one group (all / any)")
    if c.all is not None or c.any is not None:
        parts = c.all if c.all is not None else c.any
        assert parts is not None  # noqa: S101
        if not parts:
            raise _bad("an empty group")
        joiner = " AND " if c.all is not None else " OR "
        return "(" + joiner.join(_compile(p, params, depth + 1, counter) for p in parts) + ")"
    return _rule(c, params)


def _rule(c: Condition, params: list[Any]) -> str:
    if c.field is None or c.op is None:
        raise _bad("a rule needs a field and an op")
    match = _ATTRIBUTE.match(c.field)
    if match:
        column, kind = f"json_extract(customers.attributes, '$.{match.group(1)}')", "any"
    elif c.field in _COLUMNS:
        column, kind = _COLUMNS[c.field]
    else:
        raise _bad(f"unknown field {c.field!r}; known: {', '.join(_COLUMNS)}, attributes.<name>")
    op, value = c.op, c.value
    if op == "exists":
        return f"{column} IS NOT NULL"
    if value is None:
        raise _bad(f"{op} needs a value")
    if op == "has_tag":
        if kind != "tags" or not isinstance(value, str):
            raise _bad("has_tag works on `tags` with one tag as value")
        params.append(value)
        return "EXISTS (SELECT 1 FROM json_each(customers.tags) WHERE json_each.value = ?)"
    if kind == "tags":
        raise _bad("`tags` supports has_tag and exists")
    if op in ("days_since_gt", "days_since_lt"):
        if kind != "time" or isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise _bad(f"{op} works on last_order_at or created_at with a number of days")
        params += [now_ms(), int(value * _DAY_MS)]
        # A customer who never ordered has no "days since": they are in neither side.
        return f"({column} IS NOT NULL AND (? - {column}) {'>' if op == 'days_since_gt' else '<'} ?)"
    if op == "in":
        if not isinstance(value, list) or not value:
            raise _bad("in needs a non-empty list")
        params += [_sql_value(v, kind) for v in value]
        return f"{column} IN ({','.join('?' * len(value))})"
    if isinstance(value, list):
        raise _bad(f"{op} needs one value, not a list")
    if op in ("gt", "gte", "lt", "lte") and kind in ("text", "bool") and c.field != "birthday":
        raise _bad(f"{op} compares numbers, times or dates; {c.field} is {kind}")
    params.append(_sql_value(value, kind))
    return f"{column} {_COMPARE[op]} ?"


def _sql_value(value: Scalar, kind: str) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise _bad("a yes/no field compares with true or false")
        return int(value)
    if kind in ("number", "time") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _bad("this field compares with a number")
    return value


def lapsed(days: int) -> Condition:
    """The built-in "lapsed customers" segment: no order for `days` days (win-back offers)."""
    return Condition(field="last_order_at", op="days_since_gt", value=days)
