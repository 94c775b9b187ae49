"""Console login: a limited number of attempts per account, trusted device and address, reserved before the hash.

Each attempt is recorded under its keys before the password is checked (in one write
transaction, across every process), and forgotten only when it was right, so a burst of
concurrent guesses gets no more tries than a slow one (CVE-2022-3741: unlimited guessing).
The keys:
- the address: spraying one password across many accounts from one place is slowed;
- the account, for devices it does not trust: a stranger can exhaust it, and then only other
  strangers are refused;
- a trusted device (one that logged in as this agent before, `rapport_device` cookie) has a
  limit of its own, so the agent goes on logging in while someone guesses at their password.
An unknown e-mail is refused after a hash all the same (no account discovery by timing), and
every refusal says the same thing.
"""

from __future__ import annotations

import msgspec

from server.auth.passwords import Passwords
from server.auth.sessions import AgentSessions
from server.errors import Problem
from server.protocol import ErrorCode
from server.settings import Settings
from server.store.agents import AgentStore
from server.store.sessions import ActiveSession, SessionStore


class LoggedIn(msgspec.Struct, frozen=True):
    session: ActiveSession
    cookie: str
    device_cookie: str


class LoginService:
    def __init__(
        self,
        agents: AgentStore,
        sessions_store: SessionStore,
        passwords: Passwords,
        sessions: AgentSessions,
        settings: Settings,
    ) -> None:
        self._agents = agents
        self._store = sessions_store
        self._passwords = passwords
        self._sessions = sessions
        self._settings = settings

    async def login(self, email: str, password: str, *, address: str, device_cookie: str | None) -> LoggedIn:
        email = email.strip().lower()
        s = self._settings
        trusted_for = self._sessions.device_of(device_cookie, email)
        limits = [(f"address:{address}", s.login_attempts_per_address)]
        if trusted_for is not None:
            limits.append((f"device:{trusted_for}", s.login_attempts_per_account))
        else:
            limits.append((f"account:{email}", s.login_attempts_per_account))
        reserved = await self._store.reserve_attempt(limits, int(s.login_window * 1000))
        if reserved is None:
            raise Problem(ErrorCode.RATE_LIMITED, "too many failed logins; wait a few minutes")
        agent = await self._agents.by_email(email)
        usable = agent is not None and not agent.disabled
        ok = await self._passwords.verify(agent.password_hash if agent is not None else None, password)
        if agent is None or not usable or not ok:
            raise Problem(ErrorCode.UNAUTHORIZED, "wrong e-mail or password")
        await self._store.forget_attempts(reserved)
        if self._passwords.needs_rehash(agent.password_hash):
            agent = (
                await self._agents.update(agent.id, {"password_hash": await self._passwords.hash(password)}) or agent
            )
        session, cookie = await self._sessions.start(agent)
        return LoggedIn(session=session, cookie=cookie, device_cookie=self._sessions.device_cookie(agent))
