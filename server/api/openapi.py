"""Serves the OpenAPI document generated from the endpoint declarations."""

from __future__ import annotations

from typing import Any

from server.api.endpoint import Call, endpoint, openapi

_cached: dict[str, Any] | None = None


@endpoint("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", tag="meta", access="public")
async def openapi_json(call: Call) -> dict[str, Any]:
    global _cached
    if _cached is None:
        _cached = openapi()
    return _cached
