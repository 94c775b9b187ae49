"""The widget as served, made once at start: scripts minified and joined, a version, what a first open needs.

"The whole widget" (the issue's 30 KB budget, tests/browser/test_widget_page.py) is exactly what
this lists: the loader with its build line, `eager` (the entry module, our own modules it imports
joined into it, and the vendored modules: what the first open fetches, preloaded at once) and
`lazy` (what those import
dynamically, fetched when first shown: the updates, orders and history tabs, the survey after a
chat), each as served, gzipped. Every one of them is what a single shopper's browser may fetch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import re
from pathlib import Path

from server import build_cache
from server.api import minify as minifier
from server.api.minify import Unreadable
from server.api.widget_bundle import Unbundleable, bundle

log = logging.getLogger("rapport.widget")

FOLDERS = ("widget", "vendor")
SUFFIXES = (".js", ".css", ".json")
ENTRY = "widget/widget.js"
LOADER = "widget/loader.js"
# The loader's build line: what the server writes between these marks (served as is, the
# loader falls back to the unversioned files).
BUILD_MARK = "/*build*/"
# Imports of our own files, read from minified text (no comments left to mislead): `from"./x.js"`,
# `import"./x.js"`, and the dynamic `import("./x.js")` of what is fetched later.
STATIC_IMPORT = re.compile(r'\b(?:from|import)\s*"(\.\.?/[^"]+)"')
DYNAMIC_IMPORT = re.compile(r'\bimport\(\s*"(\.\.?/[^"]+)"\s*\)')


# The minifier's own code is part of what a cached result depends on (server/build_cache.py).
_MINIFIER = Path(minifier.__file__).read_bytes()


def minify(text: str) -> str:
    """The minifier's result for this text, from the build cache when it was made before."""
    return build_cache.cached("minify", _MINIFIER, text.encode("utf-8"), _minify_bytes).decode("utf-8")


def _minify_bytes(source: bytes) -> bytes:
    return minifier.minify(source.decode("utf-8")).encode("utf-8")


def _shrunk(name: str, source: bytes) -> bytes:
    """The widget's own scripts minified; published files (vendor/, already minified) as they are."""
    if not (name.startswith("widget/") and name.endswith(".js")):
        return source
    try:
        return minify(source.decode("utf-8")).encode("utf-8")
    except Unreadable as why:
        log.warning("serving %s unminified: %s", name, why)
        return source


class WidgetBuild:
    """`files`: every file as served (name -> bytes); `version`: a hash of them all; `eager` and `lazy`."""

    def __init__(self, static_root: Path) -> None:
        self.sources: dict[str, bytes] = {}
        for folder in FOLDERS:
            base = static_root / folder
            if not base.is_dir():
                continue
            for path in sorted(base.rglob("*")):
                if path.is_file() and path.suffix in SUFFIXES:
                    self.sources[path.relative_to(static_root).as_posix()] = path.read_bytes()
        if LOADER not in self.sources:
            raise RuntimeError(f"{LOADER} is missing")
        self.files = {name: _shrunk(name, body) for name, body in self.sources.items() if name != LOADER}
        self._join()
        digest = hashlib.sha256()
        for name, body in sorted(self.files.items()):
            digest.update(name.encode() + b"\0" + body + b"\0")
        self.version = digest.hexdigest()[:12]
        self.eager = self._reachable([ENTRY], dynamic=False)
        self.lazy = [name for name in self._reachable([ENTRY], dynamic=True) if name not in self.eager]

    def _join(self) -> None:
        """The entry becomes one module with our own modules it imports (server/api/widget_bundle.py)."""
        own = {name: body.decode("utf-8") for name, body in self.files.items()
               if name.startswith("widget/") and name.endswith(".js")}
        joined = {name for name in self._reachable([ENTRY], dynamic=False) if name in own}
        try:
            text, rewritten = bundle(ENTRY, own, joined)
            minify(text)  # reads back: the joined text is still JavaScript this reads
        except (Unbundleable, Unreadable) as why:
            log.warning("serving the widget's modules one by one: %s", why)
            return
        self.files[ENTRY] = text.encode("utf-8")
        for name, body in rewritten.items():
            self.files[name] = body.encode("utf-8")

    def _reachable(self, start: list[str], dynamic: bool) -> list[str]:
        seen: list[str] = []
        todo = list(start)
        while todo:
            name = todo.pop()
            if name in seen or name not in self.files:
                continue
            seen.append(name)
            text = self.files[name].decode("utf-8")
            found = STATIC_IMPORT.findall(text) + (DYNAMIC_IMPORT.findall(text) if dynamic else [])
            todo.extend(posixpath.normpath(posixpath.join(posixpath.dirname(name), spec)) for spec in found)
        return sorted(seen)

    def loader(self, settings_for_widget: object) -> bytes:
        """The loader, minified, with its build line: version, the shop's settings, and what to fetch."""
        text = self.sources[LOADER].decode("utf-8")
        head, mark, rest = text.partition(BUILD_MARK)
        _, end, tail = rest.partition(BUILD_MARK)
        if not mark or not end:
            raise RuntimeError(f"{LOADER} has no {BUILD_MARK}…{BUILD_MARK} line for the build")
        build = {"version": self.version, "config": settings_for_widget, "files": self.eager}
        line = BUILD_MARK + json.dumps(build, separators=(",", ":"), ensure_ascii=False) + BUILD_MARK
        try:
            # The two halves apart: the marks are comments, which minifying would drop.
            head, tail = minify(head), minify(tail)
        except Unreadable as why:
            log.warning("serving %s unminified: %s", LOADER, why)
        return (head + line + tail).encode("utf-8")
