"""Personalised titles and bodies: Jinja2 templates in its sandbox, checked before any send.

Marketers write `Hi {{ customer.first_name }}, {{ voucher.amount }}% off with {{ voucher.code }}`.
A template is checked when a campaign is saved and when it is previewed: syntax, and only the
known variables. Sending renders the same template against the same shape of context, so a
campaign that passed the check does not fail half-way through its audience.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import datetime as dt
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import Environment, StrictUndefined, Template, TemplateError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateRuntimeError
from jinja2.filters import FILTERS
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from server.errors import Problem
from server.protocol import ErrorCode
from server.store.customers import CustomerDetails

ALLOWED = frozenset({"customer", "voucher", "campaign"})
MAX_OUTPUT = 4000

# What one render may cost. A template is a program a marketer (or a stolen marketer account)
# writes and the server runs once per recipient: without bounds, two nested loops froze every
# socket for seconds and `"a" * 10**8` took 100 MB. Loop steps, calls and operators each count
# one step; the clock is read every few steps; anything that would build a string, list or
# number bigger than the raw-output bound is refused before it is built, and all the text one
# render builds together is bounded too (MAX_BUILT).
MAX_STEPS = 20_000
MAX_SECONDS = 0.05
MAX_RAW_OUTPUT = 65_536
MAX_BUILT = 262_144
_MAX_INT_BITS = 4_096
_MAX_RANGE = 10_000


class TemplateTooCostly(TemplateRuntimeError):
    """A render went past its budget of steps, time or size."""


class _Budget:
    __slots__ = ("built", "deadline", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.built = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateTooCostly(f"more than {MAX_STEPS} steps (loops, calls, operators)")
        if self.steps & 0xFF == 0 and time.monotonic() > self.deadline:
            raise TemplateTooCostly(f"took longer than {int(MAX_SECONDS * 1000)} ms")


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


def _size(value: Any) -> int:
    if isinstance(value, str | list | tuple):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() // 8
    return 0


def _bounded(result_size: int, what: str) -> None:
    """Refuse a result bigger than MAX_RAW_OUTPUT before it is built; count it against the
    render's MAX_BUILT."""
    if result_size > MAX_RAW_OUTPUT:
        raise TemplateTooCostly(f"{what} would be longer than {MAX_RAW_OUTPUT}")
    budget = _budget.get()
    if budget is not None:
        budget.built += result_size
        if budget.built > MAX_BUILT:
            raise TemplateTooCostly(f"builds more than {MAX_BUILT} characters in all")


def _text_size(value: Any) -> int:
    """How long `str(value)` would be, roughly, found without building it (a list holding the same
    long string a thousand times is short to hold and huge to print); refused past the bound."""
    if isinstance(value, str):
        size = len(value)
    elif isinstance(value, int | float | bool) or value is None:
        size = 24
    elif isinstance(value, list | tuple | set | frozenset | dict):
        size = 2
        for item in value.items() if isinstance(value, dict) else value:
            _tick()
            size += 2 + _text_size(item)
            if size > MAX_RAW_OUTPUT:
                break
    else:
        size = 64
    if size > MAX_RAW_OUTPUT:
        raise TemplateTooCostly(f"a value that would print longer than {MAX_RAW_OUTPUT}")
    return size


def _printed(value: Any) -> Any:
    """Jinja's `finalize`: every `{{ ... }}` passes here before it is turned into text."""
    _bounded(_text_size(value), "output")
    return value


def _counted(items: Iterable[Any]) -> Iterator[Any]:
    for item in items:
        _tick()
        yield item


def _range(*args: int) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > _MAX_RANGE:
        raise TemplateTooCostly(f"range longer than {_MAX_RANGE}")
    return _counted(numbers)


def _concat(parts: list[Any]) -> str:
    _bounded(sum(_text_size(p) for p in parts), "joined text")
    return "".join(str(p) for p in parts)


def _join(value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    if attribute is not None:
        raise SecurityError("join by attribute is not available in templates")
    items = list(_counted(value))
    sep = str(d)
    _bounded(sum(_text_size(v) for v in items) + len(sep) * max(0, len(items) - 1), "joined text")
    return sep.join(str(v) for v in items)


def _sum(value: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
    """Numbers only: adding lists one to another is quadratic and not for templates."""
    if attribute is not None:
        raise SecurityError("sum by attribute is not available in templates")
    total = start
    for item in _counted(value):
        if isinstance(item, bool) or not isinstance(item, int | float) or not isinstance(total, int | float):
            raise SecurityError("sum adds numbers only")
        total += item
    return total


def _guarded(f: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose arguments are first checked to print within the bound (most filters turn
    their value into text, all at once, in C)."""

    @functools.wraps(f)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            if not _is_context(arg):
                _text_size(arg)
        return f(*args, **kwargs)

    return guarded


def _is_context(value: Any) -> bool:
    # Filters marked to receive the environment or context get it as their first argument.
    return isinstance(value, Environment | Context | EvalContext)


def _keep_pass_arg(f: Callable[..., Any]) -> Callable[..., Any]:
    guarded = _guarded(f)
    marker = getattr(f, "jinja_pass_arg", None)
    if marker is not None:
        guarded.jinja_pass_arg = marker  # type: ignore[attr-defined]
    return guarded


def _replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text, old, new = str(value), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    _bounded(len(text) + hits * len(new), "replaced text")
    return text.replace(old, new, -1 if count is None else count)


# Filters whose output is no bigger than their input (or bounded above); the others (center,
# indent, format, wordwrap, lipsum...) can be asked for gigabytes by their arguments.
_FILTERS: dict[str, Callable[..., Any]] = {
    name: _keep_pass_arg(FILTERS[name])
    for name in (
        "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "int",
        "items", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "reverse",
        "round", "select", "selectattr", "sort", "string", "striptags", "title", "tojson", "trim",
        "truncate", "unique", "upper", "urlencode", "wordcount",
    )
} | {"join": _join, "replace": _replace, "sum": _sum, "_rapport_concat": _concat, "_rapport_counted": _counted}

# Methods a template may call on its values: reading ones, whose result is no bigger than the value.
_METHODS = frozenset(
    {
        "upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith", "endswith",
        "split", "get", "items", "keys", "values",
    }
)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "%" and isinstance(left, str):
            raise SecurityError("%-formatting is not available in templates; use filters")
        if operator == "**":
            if not isinstance(right, int) or right > 64 or _size(left) * max(right, 1) > _MAX_INT_BITS // 8:
                raise TemplateTooCostly("power too large")
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, list | tuple):
                    raise SecurityError("repeating lists is not available in templates")
                if isinstance(seq, str) and isinstance(n, int):
                    _bounded(len(seq) * max(n, 0), "repeated text")
            if isinstance(left, int) and isinstance(right, int) and (_size(left) + _size(right)) * 8 > _MAX_INT_BITS:
                raise TemplateTooCostly("number too large")
        elif operator == "+":
            _bounded(_size(left) + _size(right), "sum")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        bound_to = getattr(__obj, "__self__", None)
        allowed = (
            __obj in (_range, dict)
            or isinstance(__obj, Macro | LoopContext)
            or (bound_to is not None and not isinstance(bound_to, type) and __obj.__name__ in _METHODS)
        )
        if not allowed:
            raise SecurityError(f"calling {getattr(__obj, '__name__', type(__obj).__name__)!r} is not allowed")
        return super().call(__context, __obj, *args, **kwargs)


# autoescape off: the output is text, rendered by the widget with textContent, never as HTML.
_env = _Sandbox(undefined=StrictUndefined, autoescape=False, finalize=_printed)
_env.filters = _FILTERS
_env.globals = {"range": _range, "dict": dict}


class _Metered(NodeTransformer):
    """Every loop steps through the budget, and every `~` goes through the bounded concatenation."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_rapport_counted", [], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(nodes.List(node.nodes), "_rapport_concat", [], [], None, None)


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


# One thread for every check: a volley of costly templates queues there instead of taking a
# core each (and the GIL from the event loop in turn).
_checks = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="template-check")


async def check(
    source: str,
    *,
    field: str,
    with_voucher: bool,
    allowed: frozenset[str] = ALLOWED,
    allowed_note: str = "use customer, voucher, campaign",
) -> None:
    """Raise Problem(invalid_request) naming the field if the template cannot render, or costs
    more than a render may (steps, time, size).

    `with_voucher`: whether the campaign gives vouchers; without, `voucher` is empty.
    `allowed`: the variables this kind of message offers (reminders: `customer` only), named in
    `allowed_note` when a template uses another.

    Runs in a worker thread: even a bounded render must not hold the event loop.
    """
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(_checks, _check, source, field, with_voucher, allowed, allowed_note)


def _check(source: str, field: str, with_voucher: bool, allowed: frozenset[str], allowed_note: str) -> None:
    try:
        parsed = _env.parse(source)
        names = meta.find_undeclared_variables(parsed)  # compiles it: an unknown filter is found here
    except TemplateError as exc:
        why = getattr(exc, "message", None) or exc  # the message alone, not Jinja's source excerpt
        raise Problem(ErrorCode.INVALID_REQUEST, f"{field}: template syntax error: {why}", field=field) from None
    unknown = names - allowed
    if unknown:
        raise Problem(
            ErrorCode.INVALID_REQUEST,
            f"{field}: unknown variable(s) {', '.join(sorted(unknown))}; {allowed_note}",
            field=field,
        )
    if "voucher" in names and not with_voucher:
        raise Problem(
            ErrorCode.INVALID_REQUEST, f"{field}: uses `voucher`, but this campaign gives no voucher", field=field
        )
    sample = _sample()
    if not with_voucher:
        sample["voucher"] = None
    render(source, sample, field=field)


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    # Compiling is ~50x the cost of rendering: a broadcast renders one template per customer.
    tree = _Metered().visit(_env.parse(source))
    return _env.template_class.from_code(_env, _env.compile(tree), _env.make_globals(None), None)


def render(source: str, context: dict[str, Any], *, field: str) -> str:
    """The text for one recipient, stripped and cut at MAX_OUTPUT; Problem(invalid_request) if
    it cannot render or goes past its budget (steps, MAX_SECONDS, MAX_RAW_OUTPUT)."""
    if "{" not in source:
        # No tag, variable or comment can start: the output is the text itself. A broadcast's
        # static body then costs nothing per recipient (Jinja's context setup is ~10 us each).
        # Newlines normalised as Jinja's lexer does.
        return source.replace("\r\n", "\n").replace("\r", "\n").strip()[:MAX_OUTPUT]
    token = _budget.set(_Budget())
    try:
        pieces: list[str] = []
        produced = 0
        for piece in _compiled(source).generate(context):
            produced += len(piece)
            _bounded(produced, "output")
            _tick()
            pieces.append(piece)
    except TemplateTooCostly as exc:
        raise Problem(ErrorCode.INVALID_REQUEST, f"{field}: template too costly: {exc.message}", field=field) from None
    except RecursionError:
        too_deep = f"{field}: template too costly: recursion too deep"
        raise Problem(ErrorCode.INVALID_REQUEST, too_deep, field=field) from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise Problem(ErrorCode.INVALID_REQUEST, f"{field}: {exc}", field=field) from None
    except Exception as exc:  # whatever else a template does wrong is the template's fault, not a 500
        raise Problem(ErrorCode.INVALID_REQUEST, f"{field}: {type(exc).__name__}: {exc}", field=field) from None
    finally:
        _budget.reset(token)
    return "".join(pieces).strip()[:MAX_OUTPUT]


def _date(ms: int | None) -> str | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat() if ms else None


def context_of(
    customer: CustomerDetails, *, voucher: dict[str, Any] | None, campaign: dict[str, Any]
) -> dict[str, Any]:
    """The variables a template sees for one customer (keys always present; values may be empty)."""
    name = customer.name or ""
    return {
        "customer": {
            "id": customer.external_id,
            "name": name,
            "first_name": name.split(" ")[0] if name else "",
            "email": customer.email or "",
            "loyalty_points": customer.loyalty_points,
            "tier": customer.tier or "",
            "birthday": customer.birthday or "",
            "total_spent": customer.total_spent,
            "tags": customer.tags,
            "attributes": customer.attributes,
            "last_order_date": _date(customer.last_order_at) or "",
        },
        "voucher": voucher,
        "campaign": campaign,
    }
