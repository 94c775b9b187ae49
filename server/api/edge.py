"""The HTTP edge: body and query validation, JSON and RFC 9457 problem responses, who is calling."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server.auth.identity import IdentityError, verify_customer_token
from server.auth.sessions import COOKIE
from server.chat.access import Actor
from server.errors import Problem
from server.node import Node
from server.protocol import ErrorCode, encode

MAX_BODY_BYTES = 1 << 20


def node_of(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


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
    return Response(encode(body), status_code=status, media_type="application/problem+json")


def same_origin(request: Request) -> None:
    """Cookie-authenticated writes must come from our own pages (CSRF), SameSite=Lax aside."""
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") != f"{request.url.scheme}://{request.headers.get('host', '')}":
        public = node_of(request).settings.public_url
        if not public or origin.rstrip("/") != public.rstrip("/"):
            raise Problem(ErrorCode.FORBIDDEN, "cross-site request refused")


async def agent_of(request: Request, *roles: str) -> Actor:
    node = node_of(request)
    session = node.sessions.read(request.cookies.get(COOKIE))
    agent = await node.agents.by_id(session[0]) if session else None
    if session is None or agent is None or agent.disabled or agent.session_version != session[1]:
        raise Problem(ErrorCode.UNAUTHORIZED, "log in first")
    if roles and agent.role not in roles:
        raise Problem(ErrorCode.FORBIDDEN, f"needs role {' or '.join(roles)}")
    return Actor(type="agent", id=agent.id, name=agent.name, role=agent.role)


async def api_key_of(request: Request, scope: str) -> Actor:
    """The shop's back end, by `Authorization: Bearer rk_…`, holding `scope` (or "*")."""
    auth = request.headers.get("authorization", "")
    key = await node_of(request).api_keys.verify(auth[7:].strip()) if auth.lower().startswith("bearer ") else None
    if key is None:
        raise Problem(ErrorCode.UNAUTHORIZED, "unknown or revoked API key")
    if scope not in key.scopes and "*" not in key.scopes:
        raise Problem(ErrorCode.FORBIDDEN, f"this API key lacks the `{scope}` scope")
    return Actor(type="shop", id=key.id, name=key.name)


async def caller_of(request: Request) -> Actor:
    """An agent (session cookie) or a customer (`Authorization: Bearer` visitor token or shop JWT)."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return await agent_of(request)
    token = auth[7:].strip()
    node = node_of(request)
    try:
        customer_id = node.visitor_tokens.customer_id(token)
    except IdentityError:
        customer_id = None
    if customer_id is not None:
        record = await node.customers.by_id(customer_id)
        if record is not None and record.external_id is None:
            return Actor(type="customer", id=record.id)
        raise Problem(ErrorCode.UNAUTHORIZED, "visitor token no longer grants access")
    try:
        verified = verify_customer_token(token, node.shop_secret)
    except IdentityError as exc:
        raise Problem(ErrorCode.UNAUTHORIZED, f"bearer token refused: {exc}") from None
    record = await node.customers.identify(verified.user_id, name=None, email=None, visitor_id=None)
    return Actor(type="customer", id=record.id, name=record.name)
