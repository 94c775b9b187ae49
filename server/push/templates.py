"""Personalised titles and bodies: Jinja2 templates in its sandbox, checked before any send.

Marketers write `Hi {{ customer.first_name }}, {{ voucher.amount }}% off with {{ voucher.code }}`.
A template is checked when a campaign is saved and when it is previewed: syntax, and only the
known variables. Sending renders the same template against the same shape of context, so a
campaign that passed the check does not fail half-way through its audience.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from server.errors import Problem
from server.protocol import ErrorCode
from server.store.db import Row

# autoescape off: the output is text, rendered by the widget with textContent, never as HTML.
_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
ALLOWED = frozenset({"customer", "voucher", "campaign"})
MAX_OUTPUT = 4000


def _sample() -> dict[str, Any]:
    return {
        "customer": {
            "name": "Alex Example",
            "first_name": "Alex",
            "email": "alex@example.com",
            "loyalty_points": 120,
            "tier": "gold",
            "birthday": "1990-05-17",
            "total_spent": 420.5,
            "tags": ["vip"],
            "attributes": {},
            "last_order_date": "2026-01-31",
            "id": "shop-123",
        },
        "voucher": {
            "code": "ABCD-EFGH-JKLM",
            "kind": "percent",
            "amount": 10,
            "currency": None,
            "expires_on": "2026-12-31",
        },
        "campaign": {"name": "Sample", "expires_on": "2026-12-31"},
    }


def check(
    source: str,
    *,
    field: str,
    with_voucher: bool,
    allowed: frozenset[str] = ALLOWED,
    allowed_note: str = "use customer, voucher, campaign",
) -> None:
    """Raise Problem(invalid_request) naming the field if the template cannot render.

    `with_voucher`: whether the campaign gives vouchers; without, `voucher` is empty.
    `allowed`: the variables this kind of message offers (reminders: `customer` only), named in
    `allowed_note` when a template uses another.
    """
    try:
        parsed = _env.parse(source)
    except TemplateError as exc:
        raise Problem(ErrorCode.INVALID_REQUEST, f"{field}: template syntax error: {exc}") from None
    names = meta.find_undeclared_variables(parsed)
    unknown = names - allowed
    if unknown:
        raise Problem(
            ErrorCode.INVALID_REQUEST, f"{field}: unknown variable(s) {', '.join(sorted(unknown))}; {allowed_note}"
        )
    if "voucher" in names and not with_voucher:
        raise Problem(ErrorCode.INVALID_REQUEST, f"{field}: uses `voucher`, but this campaign gives no voucher")
    sample = _sample()
    if not with_voucher:
        sample["voucher"] = None
    render(source, sample, field=field)


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    # Compiling is ~50x the cost of rendering: a broadcast renders one template per customer.
    return _env.from_string(source)


def render(source: str, context: dict[str, Any], *, field: str) -> str:
    if "{" not in source:
        # No tag, variable or comment can start: the output is the text itself. A broadcast's
        # static body then costs nothing per recipient (Jinja's context setup is ~10 us each).
        # Newlines normalised as Jinja's lexer does.
        return source.replace("\r\n", "\n").replace("\r", "\n").strip()[:MAX_OUTPUT]
    try:
        text = _compiled(source).render(context)
    except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise Problem(ErrorCode.INVALID_REQUEST, f"{field}: {exc}") from None
    return text.strip()[:MAX_OUTPUT]


def _date(ms: int | None) -> str | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat() if ms else None


def context_of(row: Row, *, voucher: dict[str, Any] | None, campaign: dict[str, Any]) -> dict[str, Any]:
    """The variables a template sees for one customer (keys always present; values may be empty)."""
    name = row["name"] or ""
    return {
        "customer": {
            "id": row["external_id"],
            "name": name,
            "first_name": name.split(" ")[0] if name else "",
            "email": row["email"] or "",
            "loyalty_points": row["loyalty_points"],
            "tier": row["tier"] or "",
            "birthday": row["birthday"] or "",
            "total_spent": row["total_spent"],
            "tags": json.loads(row["tags"]),
            "attributes": json.loads(row["attributes"]),
            "last_order_date": _date(row["last_order_at"]) or "",
        },
        "voucher": voucher,
        "campaign": campaign,
    }
