"""Agent presence: this process's agents, shared through the store, announced on the broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec

from server import streams
from server.broker import Broker
from server.protocol import AgentInfo, Presence, encode
from server.settings import Settings
from server.store.agents import AgentStore

log = logging.getLogger("rapport.presence")


class _AnyFrame(msgspec.Struct):
    """Only the tag of a frame; its other fields are skipped, not decoded."""

    type: str


_any_frame = msgspec.json.Decoder(_AnyFrame)
_presence = msgspec.json.Decoder(Presence)


class PresenceService:
    """Typing and presence are ephemeral: a lost presence frame is corrected by the next one.

    Each process writes its agents' statuses with a heartbeat; a crashed process's rows age out
    after `presence_ttl`. A change is announced to agents (the full list) and to customers (only
    whether anyone is online, which is all the widget needs to say "online" or "leave a message").
    """

    def __init__(self, agents: AgentStore, broker: Broker, settings: Settings, process_id: str) -> None:
        self._agents = agents
        self._broker = broker
        self._settings = settings
        self._process_id = process_id
        self._local: dict[str, dict[int, str]] = {}
        self._last: list[AgentInfo] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.create_task(self._heartbeat_loop(), name="presence-heartbeat")

    def heard(self, frame: str) -> None:
        """An announcement on the agents' channel, from any process: what everyone was told.

        Remembered, so this process's next heartbeat does not announce the same change again
        (each announcement reaches every customer on every process). The channel carries the
        queue too: a frame's `type` is read first (a cheap pass that skips the rest), and only a
        presence frame is decoded in full.
        """
        try:
            if _any_frame.decode(frame).type != "presence":
                return
            announced = _presence.decode(frame)
        except msgspec.DecodeError:  # ValidationError included: nothing else writes on this channel
            log.error("malformed frame on the agents' channel %r", frame[:200])
            return
        if announced.agents is not None:
            self._last = announced.agents

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._local.clear()
        with contextlib.suppress(Exception):
            await self._agents.heartbeat(self._process_id, {})

    async def set(self, agent_id: str, connection: int, status: str | None) -> None:
        """Record one connection's status (None: it closed), then share and announce."""
        conns = self._local.setdefault(agent_id, {})
        if status is None:
            conns.pop(connection, None)
            if not conns:
                del self._local[agent_id]
        else:
            conns[connection] = status
        await self.flush(force=True)

    async def anyone_online(self) -> bool:
        """What customers are told: from the last announcement this process heard (kept current
        by every process's heartbeat), or the store before the first one."""
        agents = self._last if self._last is not None else await self.agents()
        return any(a.status == "online" for a in agents)

    async def agents(self) -> list[AgentInfo]:
        return await self._agents.presence(int(self._settings.presence_ttl * 1000))

    async def flush(self, *, force: bool = False) -> None:
        async with self._lock:
            statuses = {
                agent_id: ("online" if "online" in conns.values() else "away", len(conns))
                for agent_id, conns in self._local.items()
            }
            await self._agents.heartbeat(self._process_id, statuses)
            current = await self.agents()
            if current == self._last and not force:
                return
            before, self._last = self._last, current
        online = any(a.status == "online" for a in current)
        await self._broker.publish(
            streams.AGENTS, streams.frame_envelope(encode(Presence(agents_online=online, agents=current)))
        )
        # Customers see only whether anyone is online: an agent coming or going while others
        # stay online changes nothing for them, and telling every customer would cost a frame
        # per connected customer.
        if before is None or online != any(a.status == "online" for a in before):
            await self._broker.publish(
                streams.CUSTOMERS, streams.frame_envelope(encode(Presence(agents_online=online)))
            )

    async def _heartbeat_loop(self) -> None:
        # What everyone was last told is what the store says now: a process that starts (every
        # process, on a deploy) has nothing new to announce, and must not tell every customer.
        if self._last is None:
            try:
                self._last = await self.agents()
            except Exception:
                log.exception("presence: reading the agents' statuses failed")
        while True:
            await asyncio.sleep(self._settings.presence_heartbeat)
            try:
                await self.flush()
            except Exception:
                log.exception("presence heartbeat failed")
