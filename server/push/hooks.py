"""What the widget session tells the push engine about a customer, as an interface."""

from __future__ import annotations

import abc

from server.protocol import PropValue


class CustomerActivity(abc.ABC):
    """Implemented by the campaign engine; called by the widget socket for identified customers."""

    @abc.abstractmethod
    async def on_connect(self, customer_id: str) -> None:
        """Before the inbox is replayed: store what is due to this customer (pending campaigns)."""

    @abc.abstractmethod
    async def on_page_view(self, customer_id: str, connection: int, url: str) -> None:
        """The customer is on `url` now, in the tab behind `connection`."""

    @abc.abstractmethod
    async def on_event(self, customer_id: str, name: str, props: dict[str, PropValue]) -> None:
        """A named event from the page or the shop's back end."""

    @abc.abstractmethod
    def on_disconnect(self, customer_id: str, connection: int) -> None:
        """The tab behind `connection` closed (cancel its time-on-page timers)."""
