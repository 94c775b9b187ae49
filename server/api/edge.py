"""The HTTP edge: who is calling, the CSRF rule, bodies read within their limit, JSON and RFC 9457 problem responses."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.auth.api_keys import bearer_of
from server.auth.origins import origin_allowed
from server.auth.sessions import COOKIE, ActiveSession
from server.chat.access import Actor
from server.errors import Problem
from server.node import Node
from server.protocol import ErrorCode, encode

MAX_BODY_BYTES = 1 << 20
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def node_of(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def address_of(request: Request) -> str:
    """The client's address (after uvicorn's proxy-headers rewrite, as configured)."""
    return request.client.host if request.client is not None else "unknown"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(encode(body), status_code=status, media_type="application/json")


def problem_response(problem: Problem, status: int | None = None) -> Response:
    """RFC 9457. `status` overrides the code's usual one (e.g. 405 from routing)."""
    status = status or problem.status
    body = {
        "type": f"urn:rapport:problem:{problem.code.value}",
        "title": problem.code.value.replace("_", " "),
        "status": status,
        "detail": problem.message,
        "code": problem.code.value,
    }
    if problem.field is not None:
        body["field"] = problem.field
    return Response(encode(body), status_code=status, media_type="application/problem+json")


_AT_PATH = re.compile(r"- at `\$((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)`$")
_MISSING = re.compile(r"missing required field `([A-Za-z_][A-Za-z0-9_]*)`")


def field_of(message: str) -> str | None:
    """The field msgspec names in a validation error (`... - at `$.audience.days``, or a
    missing one), dotted: `audience.days`."""
    found = _AT_PATH.search(message)
    path = re.sub(r"\[(\d+)\]", r".\1", found.group(1)).lstrip(".") if found else ""
    missing = _MISSING.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path or None


def bearer(request: Request) -> str | None:
    return bearer_of(request.headers.get("authorization", ""))


def refuse_cross_site(request: Request) -> None:
    """The CSRF rule, one for every route: a request that changes something and is not
    authenticated by a bearer token (so the browser may have sent our cookie on its own) must
    come from our own pages. A bearer token cannot be added by another site's page without a
    CORS preflight, which this server never answers.
    """
    if request.method in _SAFE_METHODS or bearer(request) is not None:
        return
    if not origin_allowed(request.headers, node_of(request).settings.public_url):
        raise Problem(ErrorCode.FORBIDDEN, "cross-site request refused")


async def session_of(request: Request) -> ActiveSession | None:
    return await node_of(request).sessions.authenticate(request.cookies.get(COOKIE))


async def agent_of(request: Request, *roles: str) -> tuple[Actor, ActiveSession]:
    session = await session_of(request)
    if session is None:
        raise Problem(ErrorCode.UNAUTHORIZED, "log in first")
    agent = session.agent
    if roles and agent.role not in roles:
        raise Problem(ErrorCode.FORBIDDEN, f"needs role {' or '.join(roles)}")
    return Actor(type="agent", id=agent.id, name=agent.name, role=agent.role), session


async def api_key_of(request: Request, scope: str) -> Actor:
    """The shop's back end, by `Authorization: Bearer rk_…`, holding `scope` (or "*")."""
    token = bearer(request)
    if token is None:
        raise Problem(ErrorCode.UNAUTHORIZED, "unknown or revoked API key")
    return await node_of(request).shop_keys.authenticate(token, scope)


async def caller_of(request: Request) -> tuple[Actor, ActiveSession | None]:
    """An agent (session cookie) or a customer (`Authorization: Bearer` visitor token or shop JWT)."""
    token = bearer(request)
    if token is None:
        return await agent_of(request)
    return await node_of(request).visitors.bearer(token), None


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (by its Content-Length or while
    it streams in): an unauthenticated client must not make the server hold a large body."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(ErrorCode.TOO_LONG, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(ErrorCode.TOO_LONG, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request, model: Any, limit: int = MAX_BODY_BYTES) -> Any:
    """A JSON body validated by `model`. Without a bearer token (a browser may have sent our
    cookie on its own) the JSON media type is required: it is what a page on another site
    cannot send without a CORS preflight, where text/plain and forms can."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    is_json = media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    if not is_json and (bearer(request) is None or media):
        raise Problem(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
    raw = await read_body(request, limit)
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as exc:
        raise Problem(ErrorCode.INVALID_REQUEST, str(exc), field=field_of(str(exc))) from None
    except msgspec.DecodeError:
        raise Problem(ErrorCode.BAD_JSON, "body is not valid JSON") from None
    except RecursionError:
        raise Problem(ErrorCode.INVALID_REQUEST, "body is nested too deeply") from None
