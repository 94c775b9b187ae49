"""Agents over REST: the team with presence (for transfers), and accounts managed by admins."""

from __future__ import annotations

import msgspec

from server.api.endpoint import Call, Resource, console
from server.auth.accounts import Account, AccountChange, NewAccount
from server.protocol import AgentInfo

resource = Resource("agents")
ADMINS = console("admin")


class AgentList(msgspec.Struct):
    agents: list[AgentInfo]


class AccountList(msgspec.Struct):
    accounts: list[Account]


@resource.endpoint("GET", "/api/v1/agents", summary="Agents and their presence", access=console(), response=AgentList)
async def list_agents(call: Call) -> AgentList:
    return AgentList(agents=await call.node.presence.agents())


@resource.endpoint(
    "GET",
    "/api/v1/accounts",
    summary="Everyone who logs in to the console (agents, marketers, admins), deactivated ones too",
    access=ADMINS,
    response=AccountList,
)
async def list_accounts(call: Call) -> AccountList:
    return AccountList(accounts=await call.node.accounts.everyone())


@resource.endpoint(
    "POST",
    "/api/v1/accounts",
    summary="Create an account (the password must meet the rules in docs/security.md)",
    access=ADMINS,
    body=NewAccount,
    response=Account,
    status=201,
    max_body=16 * 1024,
)
async def create_account(call: Call) -> Account:
    return await call.node.accounts.create(call.body)


@resource.endpoint(
    "GET",
    "/api/v1/accounts/{agent_id:str}",
    summary="An account",
    access=ADMINS,
    response=Account,
)
async def get_account(call: Call) -> Account:
    return await call.node.accounts.get(call.path["agent_id"])


@resource.endpoint(
    "PATCH",
    "/api/v1/accounts/{agent_id:str}",
    summary="Change an account: name, role, concurrent chats, or deactivate it (its sessions end at once)",
    access=ADMINS,
    body=AccountChange,
    response=Account,
)
async def change_account(call: Call) -> Account:
    assert call.actor is not None  # noqa: S101 - access="agent"
    return await call.node.accounts.change(call.actor.id, call.path["agent_id"], call.body)
