"""Liveness and readiness for load balancers and orchestrators; neither needs credentials."""

from __future__ import annotations

import asyncio

import msgspec

from server.api.edge import json_response
from server.api.endpoint import PUBLIC, Call, Resource

resource = Resource("health")


class Health(msgspec.Struct):
    status: str
    store: bool | None = None
    broker: bool | None = None


@resource.endpoint("GET", "/healthz", summary="The process is up", access=PUBLIC, response=Health)
async def healthz(call: Call) -> Health:
    return Health(status="ok")


@resource.endpoint(
    "GET",
    "/readyz",
    summary="The store and the broker answer (503 otherwise)",
    access=PUBLIC,
    response=Health,
)
async def readyz(call: Call) -> object:
    node = call.node
    try:
        store, broker = await asyncio.wait_for(node.ready(), 2.0)
    except TimeoutError:
        store = broker = False
    ready = store and broker
    return json_response(
        Health(status="ready" if ready else "unavailable", store=store, broker=broker), 200 if ready else 503
    )
