"""What the shop tells us of its customers: the attribute model, validation, bulk import, and the service."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any

import msgspec

from server.errors import Problem
from server.ids import now_ms
from server.protocol import ErrorCode
from server.store.customers import CustomerAttributesStore, CustomerDetails
from server.store.inbox import InboxStore

ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
AttrValue = Annotated[str, msgspec.Meta(max_length=500)] | int | float | bool
UNSET = msgspec.UNSET


class CustomerIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Fields to set; a field left out keeps its stored value (an upsert, not a replace)."""

    name: Annotated[str, msgspec.Meta(max_length=200)] | msgspec.UnsetType | None = UNSET
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | msgspec.UnsetType | None = UNSET
    loyalty_points: Annotated[int, msgspec.Meta(ge=0, le=10**9)] | msgspec.UnsetType = UNSET
    tier: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType | None = UNSET
    birthday: dt.date | msgspec.UnsetType | None = UNSET
    last_order_at: dt.datetime | msgspec.UnsetType | None = UNSET
    total_spent: Annotated[float, msgspec.Meta(ge=0, le=1e12)] | msgspec.UnsetType = UNSET
    tags: Annotated[list[Tag], msgspec.Meta(max_length=50)] | msgspec.UnsetType = UNSET
    marketing_consent: bool | msgspec.UnsetType = UNSET
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | msgspec.UnsetType = UNSET
    locale: Annotated[str, msgspec.Meta(max_length=20)] | msgspec.UnsetType | None = UNSET
    attributes: (
        Annotated[dict[Annotated[str, msgspec.Meta(max_length=64)], AttrValue], msgspec.Meta(max_length=50)]
        | msgspec.UnsetType
    ) = UNSET


class CustomerList(msgspec.Struct):
    customers: list[CustomerOut]


class BulkCustomer(CustomerIn, forbid_unknown_fields=True):
    """One line of a bulk import: the shop's id plus the fields."""

    id: ExternalId = ""


class CustomerOut(msgspec.Struct):
    id: str
    external_id: str | None
    name: str | None
    email: str | None
    loyalty_points: int
    tier: str | None
    birthday: str | None
    last_order_at: int | None
    total_spent: float
    tags: list[str]
    marketing_consent: bool
    timezone: str
    locale: str | None
    attributes: dict[str, Any]
    created_at: int


def customer_out(customer: CustomerDetails) -> CustomerOut:
    return CustomerOut(**msgspec.structs.asdict(customer))


class NotificationTracked(msgspec.Struct):
    seq: int
    kind: str
    title: str
    campaign_id: str | None
    created_at: int
    actions: list[str]


class NotificationHistory(msgspec.Struct):
    notifications: list[NotificationTracked]


class InvalidCustomer(ValueError):
    pass


class LineError(msgspec.Struct):
    line: int
    reason: str


class ImportResult(msgspec.Struct):
    created: int
    updated: int
    errors: list[LineError]


async def import_lines(
    store: CustomerAttributesStore,
    text: str,
    fmt: str,
    source: str,
    batch: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Validate every line, import the good ones (a transaction per batch), report the bad ones."""
    items: list[tuple[str, dict[str, Any]]] = []
    errors: list[LineError] = []
    for number, parsed in parse_bulk(text, fmt):
        if isinstance(parsed, str):
            errors.append(LineError(line=number, reason=parsed))
        elif not parsed.id:
            errors.append(LineError(line=number, reason="missing `id` (the shop's customer id)"))
        else:
            try:
                items.append((parsed.id, columns_of(parsed, source)))
            except InvalidCustomer as exc:
                errors.append(LineError(line=number, reason=str(exc)))
    created = updated = 0
    for start in range(0, len(items), batch):
        c, u = await store.upsert_many(items[start : start + batch])
        created, updated = created + c, updated + u
        if progress is not None:
            progress(min(start + batch, len(items)), len(items))
    return ImportResult(created=created, updated=updated, errors=errors)


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    """A customer's IANA time zone; ValueError for a name that is none."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, unreadable
        raise ValueError(f"unknown time zone {name!r}") from None


def columns_of(data: CustomerIn, source: str) -> dict[str, Any]:
    """The store columns to write for these fields (validated beyond what types can say)."""
    out: dict[str, Any] = {}
    for field in data.__struct_fields__:
        value = getattr(data, field)
        if value is UNSET or field == "id":
            continue
        if field == "timezone":
            try:
                zone_of(value)
            except ValueError as exc:
                raise InvalidCustomer(str(exc)) from None
        if field == "birthday" and value is not None:
            value = value.isoformat()
        elif field == "last_order_at" and value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            value = int(value.timestamp() * 1000)
        elif field in ("tags", "attributes"):
            value = json.dumps(sorted(set(value)) if field == "tags" else value)
        elif field == "marketing_consent":
            # Consent changes are kept with time and source (GDPR Art. 7: demonstrable consent).
            out["consent_changed_at"] = now_ms()
            out["consent_source"] = source
            value = int(value)
        out[field] = value
    return out


_bulk_decoder = msgspec.json.Decoder(BulkCustomer)
_object_decoder = msgspec.json.Decoder(dict[str, Any])

# The columns (CSV) or keys (JSON lines) of a bulk import, in the order the docs list them.
COLUMNS: tuple[str, ...] = BulkCustomer.__struct_fields__[-1:] + BulkCustomer.__struct_fields__[:-1]
# Other names shops' exports give the customer's id; each is read as `id`.
ID_ALIASES = ("external_id", "customer_id")


# The longest value one CSV cell or JSON line may hold. Python's csv module stops the whole file
# at its own limit (131,072) with an error; cells are read up to the whole import's size and
# checked here instead, so one bad line is reported and the others imported.
MAX_CELL = 10_000
MAX_LINE = 100_000
csv.field_size_limit(64 * 1024 * 1024)
_attributes = msgspec.json.Decoder(dict[str, Any])


def parse_bulk(text: str, fmt: str) -> Iterator[tuple[int, BulkCustomer | str]]:
    """(line number, customer or the reason the line is refused), line by line: a bad line
    never stops the others."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        try:
            refused = _header_refused(reader.fieldnames or [])
        except csv.Error as exc:
            refused = f"not CSV: {exc}"
        if refused is not None:
            yield 1, refused
            return
        while True:
            number = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield number, f"not CSV: {exc}"
                continue
            try:
                yield number, msgspec.convert(_csv_row(row), BulkCustomer, strict=False)
            except (msgspec.ValidationError, ValueError) as exc:
                yield number, str(exc)
            except RecursionError:
                yield number, "a value is nested too deeply"
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            yield number, f"a line longer than {MAX_LINE} characters"
            continue
        try:
            yield number, _bulk_decoder.decode(line)
        except msgspec.ValidationError as exc:
            yield number, _with_alias(line) or str(exc)
        except msgspec.DecodeError as exc:
            yield number, str(exc)
        except RecursionError:
            yield number, "a value is nested too deeply"


def _header_refused(header: Sequence[str]) -> str | None:
    """Why a CSV header cannot be imported (the whole file is refused: every line would fail), or None."""
    names = [name.strip() for name in header]
    unknown = [name for name in names if name not in COLUMNS and name not in ID_ALIASES]
    if unknown:
        return f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are: {', '.join(COLUMNS)}"
    ids = [name for name in names if name == "id" or name in ID_ALIASES]
    if not ids:
        return (
            f"no `id` column (the shop's customer id; {' or '.join(ID_ALIASES)} is read as `id` too);"
            f" the header has: {', '.join(names) or 'nothing'}"
        )
    if len(ids) > 1:
        return f"{' and '.join(map(repr, ids))} all name the customer's id: keep one column, `id`"
    return None


def _with_alias(line: str) -> BulkCustomer | str | None:
    """A JSON line naming the id by an alias, read as `id` (or why not); None: no alias in it."""
    try:
        value = _object_decoder.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None  # the first decoding's error stands (a line nested too deeply fails both)
    aliases = [key for key in ID_ALIASES if key in value]
    if not aliases:
        return None
    if len(aliases) > 1 or "id" in value:
        named = [key for key in ("id", *ID_ALIASES) if key in value]
        return f"{' and '.join(map(repr, named))} all name the customer's id: keep one key, `id`"
    value["id"] = value.pop(aliases[0])
    try:
        return msgspec.convert(value, BulkCustomer)
    except msgspec.ValidationError as exc:
        return str(exc)
    except RecursionError:
        return "a value is nested too deeply"


def _csv_row(row: dict[str | None, str | None]) -> dict[str, Any]:
    if None in row:
        raise ValueError("more values than columns")
    out: dict[str, Any] = {}
    for raw_key, value in row.items():
        if raw_key is None or value is None or value == "":
            continue
        key = "id" if raw_key.strip() in ID_ALIASES else raw_key.strip()
        if len(value) > MAX_CELL:
            raise ValueError(f"the value of {key!r} is longer than {MAX_CELL} characters")
        if key == "tags":
            out[key] = [t.strip() for t in value.split("|") if t.strip()]
        elif key == "attributes":
            try:
                out[key] = _attributes.decode(value)
            except msgspec.DecodeError as exc:
                raise ValueError(f"attributes: not a JSON object: {exc}") from None
        elif key == "marketing_consent":
            out[key] = value.strip().lower() in ("1", "true", "yes", "y")
        else:
            out[key] = value
    return out


class CustomerService:
    """The shop's back end keeps its customers here: one at a time, or many from a file."""

    def __init__(self, store: CustomerAttributesStore, inbox: InboxStore) -> None:
        self._store = store
        self._inbox = inbox

    async def find(self, external_id: str, *, missing: str = "") -> CustomerDetails:
        """The customer with this shop id; Problem(not_found), its text ending with `missing`."""
        customer = await self._store.get(external_id)
        if customer is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no customer {external_id}{missing}")
        return customer

    async def get(self, external_id: str) -> CustomerOut:
        return customer_out(await self.find(external_id))

    async def search(self, text: str, limit: int) -> CustomerList:
        """Identified customers whose shop id, name or e-mail contains `text` (a picker's search),
        by the shop's id."""
        return CustomerList(customers=[customer_out(c) for c in await self._store.search(text.strip(), limit)])

    async def upsert(self, external_id: str, body: CustomerIn, *, source: str) -> CustomerOut:
        """Create the customer, or change the fields `body` names; `source` is kept with a
        change of consent (who said so)."""
        if not external_id or len(external_id) > 64:
            raise Problem(ErrorCode.INVALID_REQUEST, "customer id must be 1 to 64 characters")
        try:
            columns = columns_of(body, source=source)
        except InvalidCustomer as exc:
            raise Problem(ErrorCode.INVALID_REQUEST, str(exc)) from None
        await self._store.upsert_many([(external_id, columns)])
        return await self.get(external_id)

    async def import_lines(self, text: str, fmt: str, *, source: str) -> ImportResult:
        """JSON lines (`jsonl`) or CSV (`csv`): the good lines imported, the bad ones reported."""
        return await import_lines(self._store, text, fmt, source=source)

    async def set_marketing_consent(self, customer_id: str, consent: bool, *, source: str) -> bool:
        """The customer's own switch ("no offers, thanks"): consent as stored now. Internal id;
        identified customers only (an anonymous visitor gets no offers anyway)."""
        stored = await self._store.set_consent(customer_id, consent, source)
        if stored is None:
            raise Problem(ErrorCode.FORBIDDEN, "log in to choose what the shop sends you")
        return stored

    async def notifications(self, external_id: str, limit: int) -> NotificationHistory:
        """What a customer was sent, newest first, and what they did with each."""
        customer = await self.find(external_id)
        return NotificationHistory(
            notifications=[
                NotificationTracked(
                    seq=item.seq,
                    kind=item.kind,
                    title=item.title,
                    campaign_id=item.campaign_id,
                    created_at=item.created_at,
                    actions=sorted(item.actions),
                )
                for item in await self._inbox.history(customer.id, limit)
            ]
        )
