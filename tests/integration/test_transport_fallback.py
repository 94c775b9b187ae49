"""The fence around the lean WebSocket path: refused (by the setting, or by a uvicorn that no
longer has what ws/transport.py relies on), the server starts on uvicorn's own protocol with one
warning, and chat still works end to end."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol as Uvicorn

from server.ws import transport
from server.ws.transport import DirectWebSocketProtocol, lean_path_refused
from tests.support.live import LiveServer, test_settings


@pytest.fixture(autouse=True)
def fresh_check() -> Iterator[None]:
    """Each test sees the check run anew against what it patched, and leaves no verdict behind."""
    lean_path_refused.cache_clear()
    yield
    lean_path_refused.cache_clear()


async def _receive_with_get_nowait(self: Any) -> Any:
    """A plausible uvicorn change: take a waiting message without awaiting. Fine on uvicorn's own
    asyncio.Queue; the lean path's stand-in has no get_nowait, so on it every connection would fail."""
    message = self.queue.get_nowait() if not self.queue.empty() else await self.queue.get()
    if self.read_paused and self.queue.empty():
        self.read_paused = False
        self.transport.resume_reading()
    return message


def _protocols(live: LiveServer) -> set[type]:
    """The protocol classes of the server's open connections."""
    assert live._server is not None
    return {type(connection) for connection in live._server.server_state.connections}


async def _chat(live: LiveServer) -> None:
    """A shopper and an agent, a message each way."""
    agent = await live.agent()
    shopper = await live.customer()
    ack = await shopper.send_message("Is the blue one in stock?")
    assert ack["type"] == "ack"
    conv = ack["conversation_id"]
    assert (await agent.wait_type("event", conversation_id=conv, kind="message"))["text"] == "Is the blue one in stock?"
    reply = await agent.send_message("Two left.", conv)
    assert reply["type"] == "ack"
    assert (await shopper.wait_type("event", conversation_id=conv, seq=reply["seq"]))["text"] == "Two left."
    await agent.close()
    await shopper.close()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("refusal", ["setting", "drifted uvicorn"])
async def test_refused_lean_path_falls_back_to_uvicorns_protocol_and_chat_works(
    refusal: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if refusal == "setting":
        settings = test_settings(tmp_path, lean_websockets=False)
        why = "RAPPORT_LEAN_WEBSOCKETS is off"
    else:
        settings = test_settings(tmp_path)
        monkeypatch.setattr(Uvicorn, "receive", _receive_with_get_nowait)
        why = "Uvicorn.receive calls self.queue.get_nowait, which _Received lacks".replace(
            "Uvicorn", Uvicorn.__name__
        )
    caplog.set_level(logging.WARNING)
    live = await LiveServer(settings).start()
    try:
        warnings = _warnings(caplog)
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert warnings[0].name == "rapport.cli" and why in warnings[0].getMessage()
        assert "uvicorn's own protocol" in warnings[0].getMessage()

        agent = await live.agent()
        assert _protocols(live) == {Uvicorn}  # not DirectWebSocketProtocol
        await agent.close()
        await _chat(live)
    finally:
        await live.stop()
    assert len(_warnings(caplog)) == 1


async def test_the_lean_path_when_it_fits(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    live = await LiveServer(test_settings(tmp_path)).start()
    try:
        assert _warnings(caplog) == []
        agent = await live.agent()
        assert _protocols(live) == {DirectWebSocketProtocol}
        await agent.close()
        await _chat(live)
    finally:
        await live.stop()


async def test_a_drift_met_at_connect_time_turns_the_lean_path_off_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Should the start-time check ever miss a drift: the connection that meets it is still served
    (through the app's router), one error says why, and later connections take uvicorn's path."""
    monkeypatch.setattr(DirectWebSocketProtocol, "drifted", None)

    def no_loaded_app(config: Any) -> Any:
        raise AttributeError("'Config' object has no attribute 'loaded_app'")

    monkeypatch.setattr(transport, "_lean_routes", no_loaded_app)
    live = await LiveServer(test_settings(tmp_path)).start()
    try:
        await _chat(live)
        await _chat(live)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert [r.name for r in errors] == ["rapport.transport"]
        assert "finding the session's route" in errors[0].getMessage()
        assert DirectWebSocketProtocol.drifted is not None
        caplog.clear()  # that error was the point of this test
    finally:
        await live.stop()
