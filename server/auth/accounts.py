"""Agent accounts: admins create, change and deactivate them; each agent changes their own password."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Literal

import msgspec

from server.auth.passwords import MAX_LENGTH, Passwords, weakness
from server.auth.sessions import AgentSessions
from server.errors import Problem
from server.protocol import ErrorCode
from server.settings import Settings, SettingsError
from server.store.agents import AgentRecord, AgentStore
from server.store.db import Duplicate
from server.store.sessions import ActiveSession

log = logging.getLogger("rapport.auth")

Role = Literal["agent", "marketer", "admin"]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LENGTH)]
Cap = Annotated[int, msgspec.Meta(ge=1, le=100)]


class Account(msgspec.Struct):
    """An agent as admins and the agent see them (never the password hash)."""

    id: str
    email: str
    name: str
    role: Role
    max_concurrent: int
    disabled: bool
    created_at: int


class NewAccount(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    name: Name
    password: Password
    role: Role = "agent"
    max_concurrent: Cap | None = None


class AccountChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Name | None = None
    role: Role | None = None
    max_concurrent: Cap | None = None
    disabled: bool | None = None


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


def account_of(agent: AgentRecord) -> Account:
    return Account(
        id=agent.id,
        email=agent.email,
        name=agent.name,
        role=agent.role,  # type: ignore[arg-type]  # the column's CHECK holds it to Role
        max_concurrent=agent.max_concurrent,
        disabled=agent.disabled,
        created_at=agent.created_at,
    )


class AgentAccounts:
    def __init__(self, agents: AgentStore, passwords: Passwords, sessions: AgentSessions, settings: Settings) -> None:
        self._agents = agents
        self._passwords = passwords
        self._sessions = sessions
        self._settings = settings

    async def everyone(self) -> list[Account]:
        return [account_of(a) for a in await self._agents.everyone()]

    async def get(self, agent_id: str) -> Account:
        agent = await self._agents.by_id(agent_id)
        if agent is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no agent {agent_id}")
        return account_of(agent)

    async def create(self, new: NewAccount) -> Account:
        why = weakness(new.password, email=new.email)
        if why:
            raise Problem(ErrorCode.INVALID_REQUEST, f"password: {why}")
        try:
            agent_id = await self._agents.create(
                email=new.email.strip().lower(),
                name=new.name,
                role=new.role,
                password_hash=await self._passwords.hash(new.password),
                max_concurrent=new.max_concurrent or self._settings.agent_max_concurrent,
            )
        except Duplicate:
            raise Problem(ErrorCode.CONFLICT, f"{new.email} has an account already") from None
        return await self.get(agent_id)

    async def change(self, admin: str, agent_id: str, change: AccountChange) -> Account:
        """An admin changes an agent; deactivating ends their sessions and closes their sockets."""
        agent = await self._agents.by_id(agent_id)
        if agent is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no agent {agent_id}")
        fields = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not None}
        losing_admin = agent.role == "admin" and not agent.disabled and (
            fields.get("role", "admin") != "admin" or fields.get("disabled") is True
        )
        if losing_admin and await self._active_admins() <= 1:
            raise Problem(ErrorCode.CONFLICT, "the last active admin cannot be deactivated or demoted")
        if agent_id == admin and fields.get("disabled") is True:
            raise Problem(ErrorCode.CONFLICT, "you cannot deactivate yourself")
        if "disabled" in fields:
            fields["disabled"] = int(fields["disabled"])
        changed = await self._agents.update(agent_id, fields)
        if changed is None:
            raise Problem(ErrorCode.NOT_FOUND, f"no agent {agent_id}")
        if changed.disabled and not agent.disabled:
            await self._sessions.end_all(agent_id, why="your account was deactivated")
        elif changed.role != agent.role:
            # The sockets were opened for the old role (an agent's chats, a marketer's none).
            await self._sessions.end_all(agent_id, why="your role changed; log in again")
        return account_of(changed)

    async def change_password(self, session: ActiveSession, change: PasswordChange) -> None:
        """The agent's own password; every other session of theirs ends (CVE-2021-3740)."""
        agent = session.agent
        if not await self._passwords.verify(agent.password_hash, change.current_password):
            raise Problem(ErrorCode.FORBIDDEN, "the current password is wrong")
        why = weakness(change.new_password, email=agent.email)
        if why:
            raise Problem(ErrorCode.INVALID_REQUEST, f"new_password: {why}")
        await self._agents.update(agent.id, {"password_hash": await self._passwords.hash(change.new_password)})
        await self._sessions.end_all(agent.id, keep=session.id, why="your password was changed")

    async def ensure_first_admin(self) -> None:
        """An admin at first start: when there is none (agents made by `rapport agent add` before
        the first start do not count), `admin_email` with `admin_password` or a random one."""
        if await self._agents.count("admin") > 0:
            return
        s = self._settings
        if s.admin_password and (why := weakness(s.admin_password, email=s.admin_email)):
            raise SettingsError(f"RAPPORT_ADMIN_PASSWORD: {why}")
        password = s.admin_password or secrets.token_urlsafe(15)
        try:
            await self._agents.create(
                email=s.admin_email.strip().lower(),
                name="Admin",
                role="admin",
                password_hash=await self._passwords.hash(password),
                max_concurrent=s.agent_max_concurrent,
            )
        except Duplicate:
            if await self._agents.count("admin") == 0:
                log.warning("no admin: %s is an agent's e-mail already; set RAPPORT_ADMIN_EMAIL", s.admin_email)
            return  # another process created it first
        if not s.admin_password:
            # Printed once, on the first start only: there is no other copy of it.
            print(f"rapport: first admin {s.admin_email} / password {password}", flush=True)

    async def _active_admins(self) -> int:
        return sum(1 for a in await self._agents.everyone() if a.role == "admin" and not a.disabled)
