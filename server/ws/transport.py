"""uvicorn's WebSocket protocol plus one thing: the hub can write a text frame to the socket at once.

Through ASGI, every frame to every recipient costs a trip through Starlette's and uvicorn's send
coroutines and a wake-up of the connection's writer task: in a broadcast that was a third of the
event loop's time (bench/README.md). This protocol puts a synchronous `send_now(text) -> bool`
in the scope's extensions; `ws/connection.py` uses it while the connection has no backlog and
the transport is below its high-water mark, and otherwise queues as before, so order,
backpressure and the slow-consumer rule are unchanged. Any other server (or this one in a test
client) simply lacks the extension and every frame takes the ASGI path.
"""

from __future__ import annotations

from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

SEND_NOW = "rapport.send_now"


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.handshake_initiated and not self.close_sent:
            # ASGI types extensions as dicts of dicts; this one is a callable, read by our code only.
            cast(dict[str, Any], self.scope["extensions"])[SEND_NOW] = self.send_now

    def send_now(self, text: str) -> bool:
        """Write one text frame now if the socket is open and not backed up; else False."""
        if (
            self.disconnected
            or self.close_sent
            or not self.handshake_complete
            or self.initial_response is not None
            or not self.writable.is_set()
        ):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True
