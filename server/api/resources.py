"""Every REST resource module, imported so their endpoint declarations register."""

from server.api import agents, conversations, health, keys, openapi, session

__all__ = ["agents", "conversations", "health", "keys", "openapi", "session"]
