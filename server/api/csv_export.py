"""CSV downloads: one writer for every export, each cell a spreadsheet could run as a formula neutralised."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

import anyio.to_thread
from starlette.responses import Response

# What Excel, LibreOffice and Google Sheets read as the start of a formula (OWASP's CSV injection
# list): such a cell gets a leading apostrophe, which the spreadsheet shows as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

Cell = str | int | float | None


class Csv:
    """An endpoint's `response=Csv`: a `text/csv` download (described so in /openapi.json)."""


def cell(value: Cell) -> str:
    """A value as a CSV cell: numbers as they are, text neutralised when it starts like a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _text(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([cell(h) for h in header])
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


async def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Response:
    """A download named `filename` (reduced to safe characters) with the header line then the rows.

    Written on a worker thread: an export may hold a million rows (seconds of formatting), and
    the event loop serves every socket meanwhile."""
    text = await anyio.to_thread.run_sync(_text, header, rows)
    name = _FILENAME.sub("-", filename).strip("-") or "export.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
