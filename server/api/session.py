"""Console login: POST /api/v1/session, GET who am I, DELETE to log out, POST .../password to change it."""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.responses import Response

from server.api.edge import address_of, json_response, session_of
from server.api.endpoint import PUBLIC, Call, Resource, console
from server.auth.accounts import PasswordChange
from server.auth.sessions import COOKIE, DEVICE_COOKIE, DEVICE_MAX_AGE, ActiveSession

resource = Resource("session")


class Login(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=200)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class AgentOut(msgspec.Struct):
    id: str
    name: str
    role: str
    email: str
    # The most conversations auto-assignment gives them at once.
    max_concurrent: int


class SessionOut(msgspec.Struct):
    agent: AgentOut
    # When the session ends (Unix ms): the console asks for the password again then.
    expires_at: int


def _out(session: ActiveSession) -> SessionOut:
    agent = session.agent
    out = AgentOut(
        id=agent.id, name=agent.name, role=agent.role, email=agent.email, max_concurrent=agent.max_concurrent
    )
    return SessionOut(out, session.expires_at)


@resource.endpoint(
    "POST",
    "/api/v1/session",
    summary="Log in to the console (sets the session cookie)",
    access=PUBLIC,
    body=Login,
    response=SessionOut,
    max_body=16 * 1024,
)
async def login(call: Call) -> Response:
    body: Login = call.body
    request = call.request
    done = await call.node.logins.login(
        body.email, body.password, address=address_of(request), device_cookie=request.cookies.get(DEVICE_COOKIE)
    )
    response = json_response(_out(done.session))
    secure = request.url.scheme == "https"
    response.set_cookie(
        COOKIE, done.cookie, max_age=call.node.sessions.max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.set_cookie(
        DEVICE_COOKIE,
        done.device_cookie,
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/api/v1/session",
    )
    return response


@resource.endpoint("GET", "/api/v1/session", summary="The agent logged in", access=console(), response=SessionOut)
async def whoami(call: Call) -> SessionOut:
    assert call.session is not None  # noqa: S101 - access="agent" authenticates a session
    return _out(call.session)


@resource.endpoint("DELETE", "/api/v1/session", summary="Log out (the session ends on the server)", access=PUBLIC)
async def logout(call: Call) -> Response:
    session = await session_of(call.request)
    if session is not None:
        await call.node.sessions.end(session)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@resource.endpoint(
    "POST",
    "/api/v1/session/password",
    summary="Change your password (your other sessions end)",
    access=console(),
    body=PasswordChange,
    max_body=16 * 1024,
)
async def change_password(call: Call) -> None:
    assert call.session is not None  # noqa: S101 - access="agent"
    await call.node.accounts.change_password(call.session, call.body)
