"""Liveness and readiness for load balancers and orchestrators; neither needs credentials."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from server.api.edge import json_response, node_of


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    node = node_of(request)
    try:
        store, broker = await asyncio.wait_for(asyncio.gather(node.db.ping(), node.broker.ping()), 2.0)
    except TimeoutError:
        store = broker = False
    ready = store and broker
    return json_response(
        {"status": "ready" if ready else "unavailable", "store": store, "broker": broker}, status=200 if ready else 503
    )
