"""Agents over REST: the team with presence, for the console's transfer list."""

from __future__ import annotations

import msgspec

from server.api.endpoint import Call, endpoint
from server.protocol import AgentInfo


class AgentList(msgspec.Struct):
    agents: list[AgentInfo]


@endpoint(
    "GET", "/api/v1/agents", summary="Agents and their presence", tag="agents", access="agent", response=AgentList
)
async def list_agents(call: Call) -> AgentList:
    return AgentList(agents=await call.node.presence.agents())
