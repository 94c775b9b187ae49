"""The console's and the demo shop's files, served with Cache-Control.

Their names carry no content hash, so a browser keeps them but asks again each time
(`no-cache`): the ETag answers an unchanged file with a 304, and a new release is seen at once.
The widget's files (/widget/) get long caching from their own module (issue 10).
"""

from __future__ import annotations

import os

from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

REVALIDATE = "no-cache"


class CachedStaticFiles(StaticFiles):
    """StaticFiles whose every answer (a file, or a 304) carries `cache_control`."""

    def __init__(self, *, cache_control: str = REVALIDATE, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.cache_control = cache_control

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = self.cache_control
        return response


def page(path: str | os.PathLike[str]) -> FileResponse:
    """One of our HTML pages (the demo shop, the console), revalidated at every visit."""
    return FileResponse(path, headers={"cache-control": REVALIDATE})

