"""Console login: POST /api/v1/session, GET who am I, DELETE to log out."""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.responses import Response

from server.api.edge import json_response
from server.api.endpoint import Call, endpoint
from server.auth.sessions import COOKIE
from server.errors import Problem
from server.protocol import ErrorCode


class Login(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=200)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class AgentOut(msgspec.Struct):
    id: str
    name: str
    role: str
    email: str


class SessionOut(msgspec.Struct):
    agent: AgentOut


@endpoint(
    "POST",
    "/api/v1/session",
    summary="Log in to the console (sets the session cookie)",
    tag="session",
    access="public",
    body=Login,
    response=SessionOut,
    same_origin=True,
)
async def login(call: Call) -> Response:
    body: Login = call.body
    node = call.node
    key = body.email.lower()
    throttle = node.login_throttle
    if await throttle.blocked(key):
        raise Problem(ErrorCode.RATE_LIMITED, "too many failed logins; wait a few minutes")
    agent = await node.agents.by_email(body.email)
    ok = agent is not None and not agent.disabled and await node.passwords.verify(agent.password_hash, body.password)
    if agent is None or not ok:
        await throttle.failed(key)
        raise Problem(ErrorCode.UNAUTHORIZED, "wrong e-mail or password")
    if node.passwords.needs_rehash(agent.password_hash):
        await node.agents.set_password_hash(agent.id, await node.passwords.hash(body.password))
    response = json_response(SessionOut(AgentOut(id=agent.id, name=agent.name, role=agent.role, email=agent.email)))
    response.set_cookie(
        COOKIE,
        node.sessions.issue(agent.id, agent.session_version),
        max_age=node.sessions.max_age,
        httponly=True,
        samesite="lax",
        secure=call.request.url.scheme == "https",
        path="/",
    )
    return response


@endpoint("GET", "/api/v1/session", summary="The agent logged in", tag="session", access="agent", response=SessionOut)
async def whoami(call: Call) -> SessionOut:
    assert call.actor is not None  # noqa: S101 - access="agent"
    agent = await call.node.agents.by_id(call.actor.id)
    assert agent is not None  # noqa: S101 - just authenticated
    return SessionOut(AgentOut(id=agent.id, name=agent.name, role=agent.role, email=agent.email))


@endpoint("DELETE", "/api/v1/session", summary="Log out", tag="session", access="public", same_origin=True)
async def logout(call: Call) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response
