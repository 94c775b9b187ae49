"""The mail queue's sending rate: mails a second from the store to a local SMTP server.

    python -m bench.mail                      # 5000 mails, SMTP, 4 connections
    python -m bench.mail --mails 20000 --connections 8
    python -m bench.mail --outbox             # the file outbox instead of SMTP

The real path, in one process: mails queued in a SQLite file (as the jobs write them), then the
sender (server/mail/sender.py) claims them in batches in write transactions, renders each from
its template, composes the MIME message, sends over kept SMTP connections with aiosmtplib, and
records the outcomes in one transaction per batch. The SMTP server is aiosmtpd in a process of
its own (a sink that accepts everything) on the same two cores, so the figure is a floor.
Checked at the end: every mail delivered once (the sink counts), every row `sent`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from server.mail.links import MailLinks
from server.mail.message import new_message_id
from server.mail.sender import MailSender
from server.mail.templates import MailTemplates
from server.mail.tokens import UnsubscribeTokens
from server.mail.transport import create_transport
from server.settings import Settings
from server.store import Database
from server.store.mail_queue import MailQueueStore, NewMail, add
from tests.support.redis_server import free_port


def _sink(port: int, counter: Any, ready: Any) -> None:
    """An SMTP server that counts Message-IDs it receives (run in its own process)."""
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (from /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _mails(count: int) -> list[NewMail]:
    return [
        NewMail(
            kind="notification",
            marketing=False,
            recipient=f"customer{i}@example.com",
            recipient_name=f"Customer {i}",
            customer_id=f"cu_{i}",
            context={
                "customer_name": f"Customer {i}",
                "title": f"Order O-{i}: shipped",
                "body": "Your parcel is on its way. It should reach you within three working days.",
                "url": f"https://shop.example/orders/O-{i}",
                "voucher_code": None,
                "expires_on": None,
            },
            message_id=new_message_id("shop.example"),
            dedupe_key=f"bench:{i}",
        )
        for i in range(count)
    ]


async def run(mails: int, connections: int, outbox: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="rapport-bench-mail-"))
    port = free_port()
    counter = multiprocessing.Value("q", 0)
    ready = multiprocessing.Event()
    sink = None
    if not outbox:
        sink = multiprocessing.Process(target=_sink, args=(port, counter, ready), daemon=True)
        sink.start()
        ready.wait(10)
    settings = Settings(
        database_path=str(workdir / "bench.db"),
        smtp_url=None if outbox else f"smtp://127.0.0.1:{port}?starttls=off",
        smtp_connections=connections,
        mail_outbox=str(workdir / "outbox"),
        mail_from="shop@shop.example",
    )
    db = Database(settings.database_path)
    await db.open()
    try:
        queued = _mails(mails)
        for start in range(0, mails, 1000):
            await db.write(lambda tx, chunk=queued[start : start + 1000]: add(tx, chunk))
        store = MailQueueStore(db)
        sender = MailSender(
            store,
            create_transport(settings),
            MailTemplates(settings),
            MailLinks(settings, UnsubscribeTokens(["bench"])),
            settings,
            "bench",
        )
        sink_cpu = _cpu_seconds(sink.pid) if sink is not None and sink.pid else 0.0
        began, cpu = time.perf_counter(), time.process_time()
        while await sender.run_once():
            pass
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        if sink is not None and sink.pid:
            sink_cpu = _cpu_seconds(sink.pid) - sink_cpu
        await sender.transport.close()
        statuses = collections.Counter(r["status"] for r in await db.fetchall("SELECT status FROM mail_queue"))
    finally:
        await db.close()
        if sink is not None:
            sink.terminate()
    delivered = len(list((workdir / "outbox").glob("*.eml"))) if outbox else counter.value
    return {
        "mails": mails,
        "transport": "outbox" if outbox else f"smtp x{connections}",
        "seconds": round(elapsed, 2),
        "per_second": round(mails / elapsed),
        # CPU per mail: the sender (its event loop and the store's writer thread), and the
        # SMTP server's; with the two cores to themselves these bound the rate.
        "sender_cpu_ms_per_mail": round(cpu * 1000 / mails, 3),
        "smtp_server_cpu_ms_per_mail": round(sink_cpu * 1000 / mails, 3) if not outbox else None,
        "delivered": delivered,
        "statuses": dict(statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--outbox", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.mails, args.connections, args.outbox))
    print(result)
    if result["delivered"] != args.mails or result["statuses"] != {"sent": args.mails}:
        raise SystemExit("lost or doubled mail")


if __name__ == "__main__":
    main()
