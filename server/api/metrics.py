"""`/metrics` for Prometheus on the main port, for a scraper holding RAPPORT_METRICS_TOKEN.

Not a REST resource (text, not JSON; not in the OpenAPI document). Without the token setting the
main port does not serve it (404): the figures describe the deployment, and RAPPORT_METRICS_PORT
serves them on a private port instead (`rapport serve`, server/metrics.py).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from server import metrics
from server.api.edge import bearer, node_of, problem_response
from server.errors import Problem
from server.protocol import ErrorCode


async def metrics_endpoint(request: Request) -> Response:
    token = node_of(request).settings.metrics_token
    if not token:
        return problem_response(Problem(ErrorCode.NOT_FOUND, "not found"), 404)
    given = bearer(request) or ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        response = problem_response(Problem(ErrorCode.UNAUTHORIZED, "send the metrics token as a bearer token"))
        response.headers["www-authenticate"] = "Bearer"
        return response
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
