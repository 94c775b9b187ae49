"""The default transport: each mail written as one readable `.eml` file in a folder.

A file is written under a temporary name and renamed into place, so a reader never sees half a
mail; its name is the mail's queue id, so a mail sent again (after a crash between writing it and
recording it sent) replaces itself instead of appearing twice.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from server.mail.transport import SENT, Outgoing, Result, Transport


class Outbox(Transport):
    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    async def send(self, mails: Sequence[Outgoing]) -> list[Result]:
        return await asyncio.to_thread(self._write_all, list(mails))

    def _write_all(self, mails: list[Outgoing]) -> list[Result]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return [Result("temporary", f"outbox folder: {exc}")] * len(mails)
        return [self._write(mail) for mail in mails]

    def _write(self, mail: Outgoing) -> Result:
        final = self.folder / f"{mail.mail_id}.eml"
        partial = self.folder / f".{mail.mail_id}.eml.part"
        try:
            with partial.open("wb") as out:
                out.write(f"X-Rapport-Envelope-To: {mail.recipient}\r\n".encode())
                out.write(mail.data)
            os.replace(partial, final)
        except OSError as exc:
            return Result("temporary", f"outbox: {exc}")
        return SENT

    def files(self) -> list[Path]:
        """The mails written so far, oldest first."""
        if not self.folder.exists():
            return []
        return sorted(self.folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
