"""Results of the widget's build steps kept on disk by content, so a process starting on the same files skips them.

Minifying the widget in Python and compressing it with brotli at quality 11 took about two
seconds of every start (more under coverage): a deploy starting several workers, and the test
suite starting a server a few hundred times, paid it each time for the same bytes. A result is
filed under a hash of the step's own code or parameters and of its input, so a changed input or
a changed minifier is a miss, never a stale hit. Nothing depends on the cache being there: a
directory that cannot be written (a read-only container) only means the work is done again.

The directory: `$RAPPORT_BUILD_CACHE`, else `$XDG_CACHE_HOME/rapport`, else `~/.cache/rapport`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("rapport.build")


def directory() -> Path:
    given = os.environ.get("RAPPORT_BUILD_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rapport"


def cached(step: str, version: bytes, data: bytes, make: Callable[[bytes], bytes]) -> bytes:
    """`make(data)`, or what it gave before for this step, version and input."""
    key = hashlib.sha256(step.encode() + b"\0" + version + b"\0" + data).hexdigest()
    path = directory() / f"{step}-{key}"
    try:
        return path.read_bytes()
    except OSError:
        pass
    result = make(data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside then renamed: a process reading at the same time sees all of it or nothing.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".tmp-") as out:
            out.write(result)
        os.replace(out.name, path)
    except OSError as why:
        log.debug("build cache not written (%s): %s", path, why)
    return result
