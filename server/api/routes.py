"""Every REST resource, listed in one place (as Starlette's `routes=[...]`): its routes and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from server.api import (
    agents,
    campaigns,
    canned_replies,
    conversations,
    customers,
    events,
    health,
    inbox,
    keys,
    mail,
    openapi,
    orders,
    reminders,
    reports,
    search,
    segments,
    session,
    voucher_pools,
    vouchers,
)
from server.api.endpoint import Endpoint, Resource, openapi as openapi_of, route

RESOURCES: tuple[Resource, ...] = (
    health.resource,
    openapi.resource,
    session.resource,
    agents.resource,
    keys.resource,
    conversations.resource,
    inbox.resource,
    search.resource,
    canned_replies.resource,
    customers.resource,
    orders.resource,
    events.resource,
    segments.resource,
    campaigns.resource,
    vouchers.resource,
    voucher_pools.resource,
    reminders.resource,
    mail.resource,
    reports.resource,
)


def endpoints() -> list[Endpoint]:
    found = [ep for resource in RESOURCES for ep in resource.endpoints]
    seen: set[tuple[str, str]] = set()
    for ep in found:
        if (ep.method, ep.path) in seen:
            raise RuntimeError(f"{ep.method} {ep.path} is declared twice")
        seen.add((ep.method, ep.path))
    return found


def routes() -> list[Route]:
    return [route(ep) for ep in endpoints()]


def document() -> dict[str, Any]:
    """The OpenAPI document of every endpoint."""
    return openapi_of(endpoints())
