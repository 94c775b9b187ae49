"""`rapport import customers FILE`: upsert the shop's customers from CSV or JSON lines, with a progress bar.

The bar (rich) goes to stderr on a line of its own; the refused lines and then the summary
follow it, so the summary is never glued to the bar.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from server.push.customers import COLUMNS, ID_ALIASES, import_lines
from server.settings import Settings
from server.store import Database
from server.store.customers import CustomerAttributesStore

HELP = f"""\
columns (CSV header) or keys (JSON lines), all optional but `id`:
  id                 the shop's customer id (1-64 of A-Z a-z 0-9 _ . : @ -); {" and ".join(ID_ALIASES)} are
                     read as `id` too
  name, email        as the shop knows them
  loyalty_points     a whole number
  tier               e.g. gold
  birthday           YYYY-MM-DD
  last_order_at      ISO 8601 (2026-11-30T18:00:00Z; no zone: UTC)
  total_spent        a number
  tags               CSV: separated by | (vip|newsletter); JSON: a list
  marketing_consent  CSV: yes/no, true/false, 1/0; JSON: true/false
  timezone           IANA name (Europe/Paris)
  locale             e.g. fr-FR
  attributes         a JSON object of the shop's own fields ({{"size": "M"}})
An empty CSV cell keeps the stored value. A line that cannot be imported is reported with its
number and the others are imported; an unknown column refuses the file. Format: from the
extension (.csv, else JSON lines) or --format. Known columns: {", ".join(COLUMNS)}."""


async def run(settings: Settings, file: str, fmt: str | None) -> int:
    path = Path(file)
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"rapport: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    db = Database(settings.database_path)
    await db.open()
    bar = Progress(
        TextColumn("importing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task(path.name, total=None)

    def progress(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    try:
        with bar:
            result = await import_lines(
                CustomerAttributesStore(db), text, fmt, source=f"cli:{path.name}", progress=progress
            )
            if bar.tasks[0].total is None:  # nothing to import: the bar still ends full
                bar.update(task, total=0, completed=0)
    finally:
        await db.close()
    for error in result.errors:
        print(f"line {error.line}: {error.reason}", file=sys.stderr)
    print(f"created {result.created}, updated {result.updated}, refused {len(result.errors)} line(s)")
    return 1 if result.errors else 0
