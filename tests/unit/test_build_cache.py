"""The build cache: a hit skips the step, a changed input or version misses, an unwritable place costs the work."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import build_cache


def test_a_result_is_made_once_per_input_and_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAPPORT_BUILD_CACHE", str(tmp_path / "cache"))
    calls: list[bytes] = []

    def make(data: bytes) -> bytes:
        calls.append(data)
        return data.upper()

    assert build_cache.cached("step", b"v1", b"abc", make) == b"ABC"
    assert build_cache.cached("step", b"v1", b"abc", make) == b"ABC"
    assert calls == [b"abc"]
    assert build_cache.cached("step", b"v2", b"abc", make) == b"ABC"  # the step changed: made again
    assert build_cache.cached("step", b"v1", b"abd", make) == b"ABD"
    assert calls == [b"abc", b"abc", b"abd"]
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tmp-")]


def test_a_place_that_cannot_be_written_only_costs_the_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("RAPPORT_BUILD_CACHE", str(blocker / "cache"))
    made = []
    for _ in range(2):
        assert build_cache.cached("step", b"v", b"x", lambda d: made.append(d) or d * 2) == b"xx"
    assert len(made) == 2
