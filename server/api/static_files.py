"""The widget's files for shops' pages: compressed once, cached for a year under a content-hashed URL.

Every page of a shop loads the loader, so the files are made as cheap as they can be:
- built once at start (server/api/widget_build.py: the widget's own scripts minified), each kept
  as is, gzip (level 9) and brotli (quality 11): a request costs no compression, and the smallest
  encoding the browser accepts is sent (`Vary: Accept-Encoding`);
- the bundle (static/widget and static/vendor) is served under `/static/v/<version>/`, the version
  a hash of all its files: `Cache-Control: public, max-age=31536000, immutable`, so a returning
  shopper's browser does not even ask; a new release is a new URL;
- the loader (`/widget/loader.js`), the one URL in the shop's snippet, is cached for five minutes
  (and revalidated by its ETag), so a release reaches shops that quickly; it carries the
  version, the widget's settings (server/api/widget_config.py) and the modules to fetch;
- `/widget/<file>` serves the same files unversioned, revalidated on every use (`no-cache`),
  for the agent console, which imports the protocol client from there.

Only these responses are compressed here; they carry `Content-Encoding`, so a compression
middleware for the other responses passes them through untouched.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import brotli
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import build_cache
from server.api.widget_build import WidgetBuild
from server.api.widget_config import WidgetConfig
from server.protocol import encode

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}
IMMUTABLE = "public, max-age=31536000, immutable"
LOADER_MAX_AGE = 300


# Quality 11 is brotli's slowest (a third of a second for the bundle): done once per content, kept
# in the build cache across starts.
_BROTLI = f"{brotli.__version__}-q11-text".encode()


def _brotli(body: bytes) -> bytes:
    return bytes(brotli.compress(body, quality=11, mode=brotli.MODE_TEXT))


class StaticFile:
    """One file as served: its bytes in each encoding, its media type and entity tag."""

    __slots__ = ("encodings", "etag", "media_type")

    def __init__(self, body: bytes, media_type: str) -> None:
        self.media_type = media_type
        self.etag = hashlib.sha256(body).hexdigest()[:16]
        self.encodings: dict[str, bytes] = {"identity": body}
        compressed = {
            "br": build_cache.cached("brotli", _BROTLI, body, _brotli),
            "gzip": gzip.compress(body, compresslevel=9, mtime=0),
        }
        for name, data in compressed.items():
            if len(data) < len(body):
                self.encodings[name] = data

    def response(self, request: Request, cache_control: str) -> Response:
        encoding = self._encoding_for(request.headers.get("accept-encoding", ""))
        body = self.encodings[encoding]
        # One tag per representation: a cache must not answer a gzip request with brotli bytes.
        etag = f'"{self.etag}-{encoding}"'
        headers = {
            "cache-control": cache_control,
            "etag": etag,
            "vary": "Accept-Encoding",
            # Module scripts on the shop's origin are fetched with CORS; they are public files.
            "access-control-allow-origin": "*",
            "cross-origin-resource-policy": "cross-origin",
        }
        if encoding != "identity":
            headers["content-encoding"] = encoding
        if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers=headers)
        content = b"" if request.method == "HEAD" else body
        response = Response(content, media_type=self.media_type, headers=headers)
        if request.method == "HEAD":
            response.headers["content-length"] = str(len(body))
        return response

    def _encoding_for(self, accept: str) -> str:
        offered: dict[str, float] = {}
        for part in accept.split(","):
            name, _, params = part.strip().partition(";")
            quality = 1.0
            params = params.strip()
            if params.startswith("q="):
                try:
                    quality = float(params[2:])
                except ValueError:
                    quality = 0.0
            offered[name.strip().lower()] = quality
        for name in ("br", "gzip"):
            if name in self.encodings and offered.get(name, offered.get("*", 0.0)) > 0:
                return name
        return "identity"


class WidgetFiles:
    """The widget's build (server/api/widget_build.py) as responses, and its routes."""

    def __init__(self, static_root: Path, config: WidgetConfig) -> None:
        build = WidgetBuild(static_root)
        self.version = build.version
        self.files = {name: StaticFile(body, MEDIA_TYPES[Path(name).suffix]) for name, body in build.files.items()}
        self.loader = StaticFile(build.loader(json.loads(encode(config))), MEDIA_TYPES[".js"])

    def routes(self) -> list[Route]:
        return [
            Route("/widget/loader.js", self._loader, methods=["GET", "HEAD"]),
            Route("/widget/{path:path}", self._unversioned, methods=["GET", "HEAD"]),
            Route("/static/v/{version}/{path:path}", self._versioned, methods=["GET", "HEAD"]),
        ]

    async def _loader(self, request: Request) -> Response:
        return self.loader.response(request, f"public, max-age={LOADER_MAX_AGE}")

    async def _unversioned(self, request: Request) -> Response:
        return self._file(request, "widget/" + request.path_params["path"], "no-cache")

    async def _versioned(self, request: Request) -> Response:
        # Another version (a rolling deploy: a loader from a newer or older process) is served
        # what this process has, not cached for long: the next request may reach the right one.
        current = request.path_params["version"] == self.version
        return self._file(request, request.path_params["path"], IMMUTABLE if current else "no-cache")

    def _file(self, request: Request, name: str, cache_control: str) -> Response:
        found = self.files.get(name)
        if found is None:
            raise HTTPException(404, f"no widget file {name}")
        return found.response(request, cache_control)
