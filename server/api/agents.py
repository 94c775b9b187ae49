"""Agents over REST: the team with presence, for the console's transfer list."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.api.edge import agent_of, json_response, node_of
from server.protocol import AgentInfo


class AgentList(msgspec.Struct):
    agents: list[AgentInfo]


async def list_agents(request: Request) -> Response:
    await agent_of(request)
    return json_response(AgentList(agents=await node_of(request).presence.agents()))
