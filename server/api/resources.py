"""Every REST resource module, imported so their endpoint declarations register."""

from server.api import (
    agents,
    campaigns,
    conversations,
    customers,
    events,
    health,
    keys,
    openapi,
    orders,
    reminders,
    segments,
    session,
    vouchers,
)

__all__ = [
    "agents",
    "campaigns",
    "conversations",
    "customers",
    "events",
    "health",
    "keys",
    "openapi",
    "orders",
    "reminders",
    "segments",
    "session",
    "vouchers",
]
