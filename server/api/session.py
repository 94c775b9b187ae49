"""Console login: POST /api/v1/session, GET who am I, DELETE to log out."""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.api.edge import agent_of, body_of, json_response, node_of, same_origin
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


class LoginThrottle:
    """At most 10 failed logins per e-mail per 5 minutes (CVE-2022-3741: unlimited guessing)."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self._limit = limit
        self._window = window
        self._failures: dict[str, list[float]] = {}

    def blocked(self, key: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self._failures.get(key, []) if now - t < self._window]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return len(recent) >= self._limit

    def failed(self, key: str) -> None:
        self._failures.setdefault(key, []).append(time.monotonic())


throttle = LoginThrottle()


async def login(request: Request) -> Response:
    same_origin(request)
    body = await body_of(request, Login)
    node = node_of(request)
    key = body.email.lower()[:200]
    if throttle.blocked(key):
        raise Problem(ErrorCode.RATE_LIMITED, "too many failed logins; wait a few minutes")
    agent = await node.agents.by_email(body.email[:200])
    ok = agent is not None and not agent.disabled and await node.passwords.verify(agent.password_hash, body.password)
    if agent is None or not ok:
        throttle.failed(key)
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
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


async def whoami(request: Request) -> Response:
    actor = await agent_of(request)
    agent = await node_of(request).agents.by_id(actor.id)
    assert agent is not None  # noqa: S101 - agent_of just read it
    return json_response(SessionOut(AgentOut(id=agent.id, name=agent.name, role=agent.role, email=agent.email)))


async def logout(request: Request) -> Response:
    same_origin(request)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response
