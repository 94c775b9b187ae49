"""Serves the OpenAPI document generated from the endpoint declarations (built once by routes.py)."""

from __future__ import annotations

from typing import Any

from server.api.endpoint import PUBLIC, Call, Resource

resource = Resource("meta")


@resource.endpoint("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", access=PUBLIC)
async def openapi_json(call: Call) -> dict[str, Any]:
    document: dict[str, Any] = call.request.app.state.openapi
    return document
