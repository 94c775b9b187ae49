"""The README's two commands, as a newcomer runs them: in a fresh clone, with Debian's own python3
(/usr/bin/python3, which refuses `pip install` outside a virtual environment: PEP 668), nothing
of this checkout's environment inherited.

It clones the checkout's committed HEAD (uncommitted changes are not in the clone). It costs a few
minutes, most of them installing the packages into the fresh virtual environment (from pip's
cache when it has them) and mypy's first run: so the test command runs a handful of tests there,
one of each kind that needs something installed (Redis, a server process measured by coverage,
Chromium with Playwright), not the whole suite again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
# One test of each kind the test command must make work.
SOME_TESTS = [
    "tests/unit/test_frame_decode.py",
    "tests/broker/test_contract.py::test_two_redis_brokers_share_fan_out_with_one_subscription_each",
    "tests/integration/test_process.py::test_sigterm_closes_sockets_and_exits_in_bounded_time",
    "tests/browser/test_chat_in_browser.py",
]


def readme_commands() -> list[str]:
    """The shell blocks of the README's Quickstart, in order."""
    text = (ROOT / "README.md").read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", quickstart, re.S)]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    target = tmp_path / "rapport"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    return target


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary directory with a short path: the inner run's pytest nests its own under it, and
    Chromium refuses a profile whose socket path is longer than a Unix socket's 108 bytes."""
    made = Path(tempfile.mkdtemp(prefix="rq-", dir="/tmp"))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def newcomer_env(tmp_path: Path, short_tmp: Path) -> dict[str, str]:
    """A login shell's environment whose python3 is Debian's; nothing of this session's (virtual
    environment, coverage's subprocess hooks, pytest's variables, RAPPORT_*)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(SYSTEM_PYTHON)
    system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return {"PATH": f"{bin_dir}:{system_path}", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
            "TMPDIR": str(short_tmp)}


@pytest.mark.timeout(1200)
def test_the_readme_commands_work_in_a_fresh_clone_with_debians_python(clone: Path, tmp_path: Path,
                                                                     short_tmp: Path) -> None:
    assert Path(SYSTEM_PYTHON).exists()
    refused = subprocess.run([SYSTEM_PYTHON, "-m", "pip", "install", "--dry-run", "rapport"], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr, (
        "the system's python3 here is expected to refuse pip installs, as on stock Debian and Ubuntu")
    serve, test = readme_commands()
    assert serve == "./scripts/serve" and test == "./scripts/test"
    env = newcomer_env(tmp_path, short_tmp)

    # 1. The run command: makes .venv with Debian's python3, installs, serves on the defaults.
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*serve.split(), "--port", str(port)], cwd=clone, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("the server did not start: " + log_path.read_text()[-3000:])
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "Rapport" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/console").status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    said = log_path.read_text()
    assert f"http://127.0.0.1:{port}/console" in said and "first admin admin@example.com" in said, said[-3000:]
    venv_python = clone / ".venv" / "bin" / "python"
    version = subprocess.run([str(venv_python), "-c", "import sys; print(sys.base_prefix)"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version == "/usr", f"the virtual environment was made by {version}, not Debian's python3"

    # 2. The test command: installs the test tools into the same .venv, runs the checks and tests.
    run = subprocess.run([*test.split(), *SOME_TESTS], cwd=clone, env=env, capture_output=True, text=True,
                         timeout=1100)
    # pip's notes about this machine's package mirrors would bury what failed.
    out = "\n".join(line for line in (run.stdout + run.stderr).splitlines() if not line.startswith("WARNING: Location"))
    assert run.returncode == 0, out[-5000:]
    summary = re.findall(r"^=+ (.*) in [\d.]+s(?: \([\d:]+\))? =+$", out, re.M)  # pytest's last line
    assert summary and re.fullmatch(r"\d+ passed", summary[-1]), out[-3000:]  # nothing failed, skipped
    assert "All checks passed!" in out and "Success: no issues found" in out  # ruff, mypy
    # Coverage saw the server process a test started (`rapport serve`'s own code runs only there).
    cli = (clone / "server" / "cli.py").read_text().splitlines()
    serving = next(n for n, line in enumerate(cli, 1) if line.strip() == "uvicorn.run(")
    report = tmp_path / "coverage.json"
    made = subprocess.run([str(venv_python), "-m", "coverage", "json", "-q", "-o", str(report), "--fail-under", "0",
                           "--data-file", "build/coverage/.coverage", "--include", "server/cli.py"],
                          cwd=clone, env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    measured = json.loads(report.read_text())["files"]["server/cli.py"]
    assert serving in measured["executed_lines"], "the server processes the tests started were not measured"
    shutil.rmtree(clone / ".venv", ignore_errors=True)
