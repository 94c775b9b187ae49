"""The operator's commands as a person runs them: `rapport demo` after `rapport serve --port N`, the
customer import with id aliases and bad lines, and `rapport doctor` saying what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from aiosmtpd.controller import Controller

from server.settings import Settings
from tests.support.live import ROOT, ProcessServer
from tests.support.redis_server import RedisServer, free_port


def rapport(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def process_server(settings: Settings) -> Iterator[ProcessServer]:
    server = ProcessServer(msgspec.structs.replace(settings, log_level="info")).start()
    try:
        yield server
    finally:
        server.stop()


def test_demo_prints_the_urls_of_the_port_serve_was_given(process_server: ProcessServer) -> None:
    port = process_server.port
    assert port != 8000
    env = process_server.env()  # as an operator's shell: PORT unset or 8000, the server on another port
    env.pop("PORT", None)
    shown = rapport("demo", env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"http://127.0.0.1:{port}/console" in shown.stdout
    assert f"http://127.0.0.1:{port}/\n" in shown.stdout
    assert "sample customer JWT" in shown.stdout
    # serve printed them too, when it started.
    log = process_server.log_path.read_text()
    assert f"http://127.0.0.1:{port}/console" in log
    # Given explicitly, or a public URL set: that one.
    assert "http://127.0.0.1:9123/console" in rapport("demo", "--port", "9123", env=env).stdout
    public = rapport("demo", env={**env, "RAPPORT_PUBLIC_URL": "https://chat.shop.example"})
    assert "https://chat.shop.example/console" in public.stdout and str(port) not in public.stdout


def test_import_reads_id_aliases_reports_bad_lines_and_ends_with_a_summary(settings: Settings, tmp_path: Path) -> None:
    env = ProcessServer(settings).env()
    assert rapport("migrate", env=env).returncode == 0
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text(
        "external_id,name,loyalty_points,tags,marketing_consent\n"
        "c1,Ann,10,vip|newsletter,yes\n"
        "c2,Bob,lots,,no\n"
        "c3,Cy,5,,\n"
        "c4,Di,7,,true,extra\n"
    )
    run = rapport("import", "customers", str(csv_file), env=env)
    assert run.returncode == 1  # some lines refused
    assert run.stdout == "created 2, updated 0, refused 2 line(s)\n"
    errors = run.stderr.splitlines()
    assert any(line.startswith("line 3: ") and "loyalty_points" in line for line in errors), run.stderr
    assert any(line.startswith("line 5: ") and "more values than columns" in line for line in errors), run.stderr
    # The bar is a line of its own, full, before the refused lines (none glued together).
    bar = [line for line in errors if line.startswith("importing customers.csv")]
    assert len(bar) == 1 and "2/2" in bar[0], run.stderr
    assert errors.index(bar[0]) < min(i for i, line in enumerate(errors) if line.startswith("line "))

    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text('{"customer_id": "c1", "tier": "gold"}\n{"id": "c9", "customer_id": "c9"}\n{"id": "c5"}\n')
    run = rapport("import", "customers", str(jsonl), env=env)
    assert run.stdout == "created 1, updated 1, refused 1 line(s)\n", run.stderr
    assert "line 2: 'id' and 'customer_id' all name the customer's id: keep one key, `id`" in run.stderr

    # A header without an id column, or with an unknown column: the whole file, said once, naming the column.
    for header, expected in (("name,email\nAnn,a@x.org\n", "no `id` column"),
                             ("id,nmae\nc1,Ann\n", "unknown column(s) 'nmae'; the columns are: id, name,")):
        bad = tmp_path / "bad.csv"
        bad.write_text(header)
        run = rapport("import", "customers", str(bad), env=env)
        assert run.returncode == 1 and run.stdout == "created 0, updated 0, refused 1 line(s)\n"
        assert f"line 1: {expected}" in run.stderr, run.stderr

    helped = rapport("import", "customers", "--help", env=env)
    for documented in ("external_id", "customer_id", "separated by |", "marketing_consent", "YYYY-MM-DD"):
        assert documented in helped.stdout, documented


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return rapport("doctor", env=env)


def test_doctor_finds_a_wrong_redis_url(settings: Settings, redis_server: RedisServer) -> None:
    base = ProcessServer(settings).env()
    nobody = free_port()
    run = doctor({**base, "REDIS_URL": f"redis://:hunter2-secret@127.0.0.1:{nobody}/0"})
    assert run.returncode == 1
    line = next(line for line in run.stdout.splitlines() if line.startswith("problem  redis:"))
    assert f"cannot reach Redis at redis://127.0.0.1:{nobody}/0" in line
    assert "hunter2-secret" not in run.stdout + run.stderr
    assert "1 problem(s) found" in run.stdout

    run = doctor({**base, "REDIS_URL": "http://127.0.0.1:6379"})
    assert run.returncode == 1 and "REDIS_URL must start with redis://" in run.stdout

    run = doctor({**base, "REDIS_URL": redis_server.url})
    assert run.returncode == 0, run.stdout
    assert f"ok       redis: {redis_server.url} answers" in run.stdout


class Accept:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def test_doctor_checks_settings_database_smtp_and_origins(settings: Settings, tmp_path: Path) -> None:
    base = ProcessServer(settings).env()
    smtp_port = free_port()
    controller = Controller(Accept(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        run = doctor({**base, "SMTP_URL": f"smtp://mailer:pa55word@127.0.0.1:{smtp_port}",
                      "RAPPORT_ALLOWED_ORIGINS": "https://shop.example.com"})
    finally:
        controller.stop()
    assert run.returncode == 0, run.stdout
    assert f"ok       smtp: smtp://127.0.0.1:{smtp_port} answers" in run.stdout and "pa55word" not in run.stdout
    assert "will be created at the first start" in run.stdout  # nothing made by the check itself
    assert not os.path.exists(settings.database_path)

    run = doctor({**base, "SMTP_URL": f"smtp://127.0.0.1:{free_port()}", "RAPPORT_PUBLC_URL": "https://x.example",
                  "RAPPORT_ALLOWED_ORIGINS": "https://shop.example.com/cart,*,shop.example.com",
                  "RAPPORT_RATE_BURST": "0"})
    assert run.returncode == 1
    # A setting that cannot be read stops the other checks: it is the first thing to fix.
    assert "problem  settings: invalid setting" in run.stdout and "rate_burst" in run.stdout
    run = doctor({**base, "SMTP_URL": f"smtp://127.0.0.1:{free_port()}", "RAPPORT_PUBLC_URL": "https://x.example",
                  "RAPPORT_ALLOWED_ORIGINS": "https://shop.example.com/cart,*,shop.example.com"})
    out = run.stdout
    assert run.returncode == 1
    assert "RAPPORT_PUBLC_URL is not a setting and is ignored (did you mean RAPPORT_PUBLIC_URL?)" in out
    assert "problem  smtp: cannot reach the mail server at smtp://127.0.0.1:" in out
    assert "'https://shop.example.com/cart' has more than scheme, host and port" in out
    assert "`*` is not allowed" in out
    assert "'shop.example.com' is not an origin: write it as https://shop.example.com" in out
    assert "4 problem(s) found" in out

    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"not a database at all" * 100)
    run = doctor({**base, "DATABASE_URL": str(damaged)})
    assert run.returncode == 1 and f"problem  database: {damaged} cannot be read as SQLite" in run.stdout
