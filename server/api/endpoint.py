"""Declaring a REST endpoint once: its route, who may call it, its body and response models.

The same declaration builds the Starlette route, validates the request (body, query, path) with
the msgspec models, checks access, and generates the OpenAPI document (`/openapi.json`), so
the published contract cannot drift from what the server accepts. Each resource module holds a
`Resource` of its endpoints; server/api/routes.py lists the resources.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import logs
from server.api.csv_export import Csv
from server.api.edge import (
    MAX_BODY_BYTES,
    agent_of,
    api_key_of,
    bearer,
    caller_of,
    json_body,
    json_response,
    refuse_cross_site,
)
from server.auth.sessions import ActiveSession
from server.chat.access import Actor
from server.errors import Problem
from server.ids import new_id
from server.node import Node
from server.protocol import ErrorCode


@dataclasses.dataclass(frozen=True)
class Query:
    """A query parameter: its type (int or str), default, bounds and meaning."""

    kind: type[int] | type[str]
    default: int | str | None
    description: str
    low: int | None = None
    high: int | None = None
    max_length: int = 200


@dataclasses.dataclass
class Call:
    """What a handler receives: everything already validated."""

    request: Request
    node: Node
    actor: Actor | None
    body: Any
    path: dict[str, str]
    query: dict[str, Any]
    # The console session, when the caller is an agent authenticated by their cookie.
    session: ActiveSession | None = None


Handler = Callable[[Call], Awaitable[Any]]


@dataclasses.dataclass(frozen=True)
class Access:
    """Who may call an endpoint. Use the presets: PUBLIC, CALLER, console(...), shop(...)."""

    kind: Literal["public", "agent", "caller", "shop"]
    scope: str | None = None
    roles: tuple[str, ...] = ()


# Anyone.
PUBLIC = Access("public")
# A console session, or a customer (a visitor token or a shop JWT as Bearer).
CALLER = Access("caller")


def console(*roles: str) -> Access:
    """A console session, with one of `roles` if given."""
    return Access("agent", None, roles)


def shop(scope: str, *roles: str) -> Access:
    """The shop's back end with an API key holding `scope`, or a console session with one of `roles`."""
    return Access("shop", scope, roles)


@dataclasses.dataclass
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    access: Access
    body: Any
    response: Any
    status: int
    query: dict[str, Query]
    max_body: int


class Resource:
    """A resource module's endpoints, declared beside their handlers; server/api/routes.py lists
    every resource (nothing registers itself on import).

    Whatever the access, a request that changes something without a bearer token must come
    from our own pages (edge.refuse_cross_site), and a body must be JSON of at most `max_body`
    bytes.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def endpoint(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        access: Access,
        body: Any = None,
        response: Any = None,
        status: int = 200,
        query: dict[str, Query] | None = None,
        max_body: int = MAX_BODY_BYTES,
    ) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            declared = Endpoint(
                method, path, handler, summary, self.tag, access, body, response, status, query or {}, max_body
            )
            self.endpoints.append(declared)
            return handler

        return declare


async def _authorise(ep: Endpoint, request: Request) -> tuple[Actor | None, ActiveSession | None]:
    access = ep.access
    if access.kind == "public":
        return None, None
    if access.kind == "caller":
        return await caller_of(request)
    if access.kind == "agent":
        return await agent_of(request, *access.roles)
    token = bearer(request)
    if token is not None and token.startswith("rk_"):
        return await api_key_of(request, access.scope or ""), None
    return await agent_of(request, *access.roles)


def _query(ep: Endpoint, request: Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in ep.query.items():
        raw = request.query_params.get(name)
        if raw is None:
            values[name] = spec.default
            continue
        if spec.kind is int:
            try:
                number = int(raw)
            except ValueError:
                raise Problem(ErrorCode.INVALID_REQUEST, f"`{name}` must be an integer") from None
            if (spec.low is not None and number < spec.low) or (spec.high is not None and number > spec.high):
                raise Problem(ErrorCode.INVALID_REQUEST, f"`{name}` must be between {spec.low} and {spec.high}")
            values[name] = number
        else:
            if len(raw) > spec.max_length:
                raise Problem(ErrorCode.INVALID_REQUEST, f"`{name}` is longer than {spec.max_length}")
            values[name] = raw
    return values


def route(ep: Endpoint) -> Route:
    """The Starlette route of an endpoint: CSRF rule, access, query, body, then the handler."""

    async def handle(request: Request) -> Response:
        # This request's task: every line logged while serving it carries its ids (not reset at
        # the end, so the error handler's line for an exception escaping it has them too).
        request_id = _request_id(request)
        logs.REQUEST_ID.set(request_id)
        conversation_id = request.path_params.get("conversation_id")
        if isinstance(conversation_id, str):
            logs.CONVERSATION_ID.set(conversation_id)
        refuse_cross_site(request)
        actor, session = await _authorise(ep, request)
        if actor is not None and actor.type in ("agent", "customer"):
            (logs.AGENT_ID if actor.type == "agent" else logs.CUSTOMER_ID).set(actor.id)
        query = _query(ep, request)
        body = None if ep.body is None else await json_body(request, ep.body, ep.max_body)
        call = Call(request, request.app.state.node, actor, body, dict(request.path_params), query, session)
        result = await ep.handler(call)
        if isinstance(result, Response):
            response = result
        elif result is None:
            response = Response(status_code=204 if ep.status == 200 else ep.status)
        else:
            response = json_response(result, ep.status)
        response.headers["x-request-id"] = request_id
        return response

    return Route(ep.path, handle, methods=[ep.method])


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _request_id(request: Request) -> str:
    """The proxy's X-Request-ID when it is a plain token (it goes into log lines), else a new one."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.fullmatch(given) else new_id("r")


# ---------------------------------------------------------------------------- OpenAPI

_PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "enum": [c.value for c in ErrorCode]},
        "field": {"type": "string", "description": "the body's field at fault, dotted (`audience.days`), when known"},
    },
    "required": ["type", "title", "status", "detail", "code"],
}


def openapi(endpoints: list[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these endpoints."""
    models = []
    for ep in endpoints:
        models += [m for m in (ep.body, ep.response) if m is not None and m is not Csv]
    schemas, components = msgspec.json.schema_components(models, ref_template="#/components/schemas/{name}")
    schema_of = dict(zip((id(m) for m in models), schemas, strict=True))
    components["Problem"] = _PROBLEM
    paths: dict[str, Any] = {}
    for ep in endpoints:
        problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        responses: dict[str, Any] = {}
        if ep.response is Csv:
            responses[str(ep.status)] = {
                "description": "a CSV file (cells that would start a formula begin with an apostrophe)",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        elif ep.response is not None:
            responses[str(ep.status)] = {
                "description": "OK",
                "content": {"application/json": {"schema": schema_of[id(ep.response)]}},
            }
        else:
            responses["204" if ep.status == 200 else str(ep.status)] = {"description": "done"}
        for status, why in (
            (400, "bad request"),
            (401, "not authenticated"),
            (403, "not allowed"),
            (404, "not found"),
            (409, "conflict"),
            (413, "too large"),
            (422, "invalid"),
            (429, "too many requests"),
        ):
            if ep.access.kind == "public" and status in (401, 403):
                continue
            responses[str(status)] = {"description": why, **problem}
        if ep.body is not None:
            responses["415"] = {"description": "not application/json", **problem}
        operation: dict[str, Any] = {
            "summary": ep.summary,
            "tags": [ep.tag],
            "operationId": f"{ep.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', ep.path.lower()).strip('_')}",
            "responses": responses,
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
            for name in re.findall(r"{(\w+)(?::\w+)?}", ep.path)
        ]
        for name, spec in ep.query.items():
            schema: dict[str, Any] = {"type": "integer" if spec.kind is int else "string"}
            if spec.kind is int:
                if spec.low is not None:
                    schema["minimum"] = spec.low
                if spec.high is not None:
                    schema["maximum"] = spec.high
            else:
                schema["maxLength"] = spec.max_length
            parameters.append(
                {"name": name, "in": "query", "required": False, "schema": schema, "description": spec.description}
            )
        if parameters:
            operation["parameters"] = parameters
        if ep.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of[id(ep.body)]}},
            }
        if ep.access.kind != "public":
            operation["security"] = _security(ep)
        path = re.sub(r"{(\w+):\w+}", r"{\1}", ep.path)
        paths.setdefault(path, {})[ep.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rapport API",
            "version": "1",
            "description": "Live chat and push for online shops. Errors are RFC 9457 problem responses.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "rk_… key for the shop's back end"},
                "session": {"type": "apiKey", "in": "cookie", "name": "rapport_session"},
                "customer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a visitor token or a shop-signed customer JWT",
                },
            },
        },
    }


def _security(ep: Endpoint) -> list[dict[str, list[str]]]:
    if ep.access.kind == "agent":
        return [{"session": []}]
    if ep.access.kind == "caller":
        return [{"session": []}, {"customer": []}]
    return [{"apiKey": [ep.access.scope or ""]}, {"session": []}]
