"""Fan-out between server processes: a small Broker interface with in-process and Redis backends."""

from server.broker.base import Broker, MessageHandler, ReconnectHandler
from server.broker.memory import MemoryBroker


def create_broker(redis_url: str | None) -> Broker:
    """The in-process broker by default; Redis when a URL is given (imported only then)."""
    if not redis_url:
        return MemoryBroker()
    from server.broker.redis import RedisBroker

    broker: Broker = RedisBroker(redis_url)
    return broker


__all__ = ["Broker", "MemoryBroker", "MessageHandler", "ReconnectHandler", "create_broker"]
