"""The app without `rapport serve`'s lean protocol: its WebSocket routes still work through
Starlette's router on any ASGI server (here uvicorn's own websockets-sansio protocol, which has
no direct writes and no lean path)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn

from server.app import create_app
from server.cli import uvicorn_config_kwargs
from server.settings import Settings
from tests.support.client import WsClient


@pytest.fixture
async def plain_ws_url(settings: Settings) -> AsyncIterator[str]:
    options = uvicorn_config_kwargs(settings) | {"ws": "websockets-sansio"}
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning", **options)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "server did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)


async def test_a_shopper_chats_through_the_plain_asgi_route(plain_ws_url: str) -> None:
    shopper = await WsClient.connect(f"{plain_ws_url}/ws/widget")
    await shopper.hello()
    assert shopper.welcome["role"] == "customer"
    ack = await shopper.send_message("Hello there")
    assert ack["seq"] >= 1
    seen = await shopper.wait_type("event", conversation_id=ack["conversation_id"], kind="message")
    assert seen["text"] == "Hello there"
    await shopper.close()
