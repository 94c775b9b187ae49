"""The REST API's published contract: served at /openapi.json, and fuzzing it finds no server error."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.api.routes import document
from server.settings import Settings
from tests.support.live import ROOT, ProcessServer


@pytest.fixture
def process_server(settings: Settings) -> Iterator[ProcessServer]:
    server = ProcessServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


def test_the_served_document_is_the_generated_one(process_server: ProcessServer) -> None:
    served = httpx.get(f"{process_server.base}/openapi.json").json()
    assert served == document()
    assert served["openapi"].startswith("3.1")
    paths = served["paths"]
    for path in ("/api/v1/customers/{external_id}", "/api/v1/orders/events", "/api/v1/segments",
                 "/api/v1/campaigns", "/api/v1/vouchers/{code}/redeem",
                 "/api/v1/conversations/{conversation_id}/events"):
        assert path in paths, path
    # Every request body is described by a schema generated from the model that validates it.
    body = paths["/api/v1/orders/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/OrderEvent"}
    assert "order_id" in served["components"]["schemas"]["OrderEvent"]["required"]


def test_schemathesis_finds_no_server_errors(process_server: ProcessServer, tmp_path: Path) -> None:
    env = process_server.env()
    made = subprocess.run([sys.executable, "-m", "server", "apikey", "add", "--name", "fuzz"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    token = made.stdout.strip().splitlines()[-1]
    cookie = httpx.post(f"{process_server.base}/api/v1/session",
                        json={"email": process_server.settings.admin_email,
                              "password": process_server.settings.admin_password}).cookies["rapport_session"]
    # Beside this interpreter first: the project's .venv is not on PATH unless activated.
    scripts = str(Path(sys.executable).parent)
    st = shutil.which("st", path=scripts) or shutil.which("schemathesis", path=scripts) or shutil.which("st")
    assert st, "schemathesis is installed by the test command (pip install -e '.[test]')"
    run = subprocess.run(
        [st, "run", f"{process_server.base}/openapi.json", "--checks", "not_a_server_error",
         "--header", f"Authorization: Bearer {token}", "--header", f"Cookie: rapport_session={cookie}",
         "--max-examples", "15", "--generation-deterministic", "--no-color", "--request-timeout", "10"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    tail = run.stdout[-3000:]
    assert run.returncode == 0, tail
    counts = re.search(r"(\d+) generated, (\d+) passed(.*)", tail)
    assert counts is not None, tail
    assert int(counts.group(1)) > 500 and counts.group(1) == counts.group(2) and "failed" not in counts.group(3), tail
