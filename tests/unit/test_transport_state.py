"""The lean stand-ins for uvicorn's per-connection asyncio.Queue and asyncio.Event behave like them,
and the fence around the lean path names every drift of uvicorn it relies on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol as Uvicorn
from uvicorn.server import ServerState
from websockets.server import ServerProtocol

from server.ws.transport import DirectWebSocketProtocol, _Flag, _protocol_drift, _Received, lean_path_refused


async def test_received_keeps_order_and_wakes_a_waiting_reader() -> None:
    queue = _Received()
    assert queue.empty()
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not reader.done()
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert await reader == 1
    assert not queue.empty()
    assert await queue.get() == 2
    assert queue.empty() and queue._items is None  # nothing held while idle


async def test_a_cancelled_reader_leaves_the_queue_usable() -> None:
    queue = _Received()
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    queue.put_nowait("after")
    assert await asyncio.wait_for(queue.get(), 1) == "after"


async def test_flag_wakes_every_waiter_and_clears() -> None:
    flag = _Flag()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True, True]
    assert flag._waiters is None
    flag.clear()
    assert not flag.is_set()
    late = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    late.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await late
    assert not flag._waiters
    flag.set()
    assert await asyncio.wait_for(flag.wait(), 1) is True


# ---------------------------------------------------------------- the fence (lean_path_refused)


def test_the_installed_uvicorn_fits_the_lean_path() -> None:
    """A canary for upgrades: a uvicorn the fence refuses still serves (on its own protocol, with
    a warning), but every idle socket then costs about twice the memory. Read the reason."""
    assert lean_path_refused() is None


class _GetNowait(Uvicorn):
    async def receive(self) -> Any:  # a uvicorn that empties its queue without awaiting
        message = self.queue.get_nowait() if not self.queue.empty() else await self.queue.get()
        return message


class _RenamedFlag(Uvicorn):
    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
        self.config = config
        self.app = config.loaded_app
        self.queue: Any = asyncio.Queue()
        self.conn = ServerProtocol()
        self.transport: Any = None
        self.handshake_initiated = self.handshake_complete = self.close_sent = self.disconnected = False
        self.initial_response = None
        self.can_write = asyncio.Event()  # was `writable`


class _UnpausedFlag(Uvicorn):
    def pause_writing(self) -> None:  # backpressure kept some other way: direct writes would not see it
        self.paused = True


class _WiderConnect(Uvicorn):
    def handle_connect(self, event: Any, extra: Any = None) -> None:  # type: ignore[override]
        super().handle_connect(event)


class _SendGone(Uvicorn):
    send = None  # type: ignore[assignment]


class _RequestNotKept(Uvicorn):
    def handle_connect(self, event: Any) -> None:  # builds the scope without keeping the request
        self.response = self.conn.accept(event)
        self.scope: Any = {"type": "websocket"}
        self.handshake_initiated = True


class _QueuePassedOn(Uvicorn):
    def connection_lost(self, exc: Exception | None) -> None:
        _drain(self.queue)


def _drain(queue: Any) -> None:
    pass


class _NoSendText:
    def data_to_send(self) -> list[bytes]:
        return []


class _OtherConn(Uvicorn):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _NoSendText()  # type: ignore[assignment]


class _AppByOtherName(Uvicorn):
    async def run_asgi(self) -> None:
        await self.application(self.scope, self.receive, self.send)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("drifted", "reason"),
    [
        (_GetNowait, "_GetNowait.receive calls self.queue.get_nowait, which _Received lacks"),
        (_RenamedFlag, "_RenamedFlag.__init__ no longer sets self.writable"),
        (_UnpausedFlag, "_UnpausedFlag.pause_writing no longer calls self.writable.clear()"),
        (_WiderConnect, "_WiderConnect.handle_connect takes (self, event, extra), not (self, event)"),
        (_SendGone, "_SendGone.send is gone"),
        (_RequestNotKept, "_RequestNotKept.handle_connect no longer sets self.request"),
        (_QueuePassedOn, "_QueuePassedOn.connection_lost uses self.queue other than by calling its methods"),
        (_OtherConn, "self.conn (_NoSendText) has no send_text()"),
        (_AppByOtherName, "_AppByOtherName no longer reads self.app when a connection starts"),
    ],
)
def test_the_fence_names_each_drift(drifted: type, reason: str) -> None:
    assert reason in list(_protocol_drift(drifted))
    assert reason.replace(drifted.__name__, Uvicorn.__name__) not in list(_protocol_drift(Uvicorn))


def test_a_drift_in_uvicorn_itself_refuses_the_lean_path(monkeypatch: pytest.MonkeyPatch) -> None:
    lean_path_refused.cache_clear()
    monkeypatch.setattr(Uvicorn, "receive", _GetNowait.receive)
    try:
        refused = lean_path_refused()
        assert refused is not None and "receive calls self.queue.get_nowait" in refused
        assert lean_path_refused() is refused  # checked once
    finally:
        lean_path_refused.cache_clear()


async def test_a_stand_in_asked_for_what_it_lacks_turns_the_lean_path_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What the fence exists to prevent, if it ever let a drift through: that connection's call
    fails, one error says why, and every later connection gets uvicorn's own queue and flag."""
    monkeypatch.setattr(DirectWebSocketProtocol, "drifted", None)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    config = Config(app, ws="server.ws.transport:DirectWebSocketProtocol")
    config.load()
    loop = asyncio.get_running_loop()
    before = DirectWebSocketProtocol(config, ServerState(), {}, _loop=loop)
    assert isinstance(before.queue, _Received) and isinstance(before.writable, _Flag)

    with pytest.raises(AttributeError):
        before.queue.get_nowait()
    with pytest.raises(AttributeError):
        before.writable.wait_for_it()
    assert DirectWebSocketProtocol.drifted is not None and "queue.get_nowait" in DirectWebSocketProtocol.drifted
    assert [r.levelno for r in caplog.records if r.name == "rapport.transport"] == [logging.ERROR]

    after = DirectWebSocketProtocol(config, ServerState(), {}, _loop=loop)
    assert isinstance(after.queue, asyncio.Queue) and isinstance(after.writable, asyncio.Event)
    caplog.clear()  # the error was the point of this test
