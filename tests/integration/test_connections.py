"""Connection hygiene: dead peers are found by pings, compression is declined, frames are capped."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

from websockets.asyncio.client import connect

from tests.support.live import LiveServer, test_settings


async def test_a_peer_that_never_answers_pings_is_dropped(tmp_path: Path) -> None:
    live = await LiveServer(test_settings(tmp_path, ping_interval=0.3, ping_timeout=0.3)).start()
    try:
        host, port = live.base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws/widget HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        status = await asyncio.wait_for(reader.readline(), 5)
        assert b"101" in status
        # Never send a pong (nor anything): the server must give up on us within ping interval + timeout.
        async def until_closed() -> None:
            while await reader.read(4096):
                pass

        await asyncio.wait_for(until_closed(), 5)
        writer.close()
        # And it serves others all the while.
        other = await live.customer()
        assert other.welcome["type"] == "welcome"
    finally:
        await live.stop()


async def test_permessage_deflate_is_declined(server: LiveServer) -> None:
    async with connect(f"{server.ws}/ws/widget", compression="deflate") as ws:
        # Offered by the client (as every browser does), not accepted: no extension in use.
        assert ws.protocol.extensions == []
        request_extensions = ws.request.headers.get("Sec-WebSocket-Extensions") if ws.request else None
        assert request_extensions and "permessage-deflate" in request_extensions
        assert ws.response is not None and "Sec-WebSocket-Extensions" not in ws.response.headers
