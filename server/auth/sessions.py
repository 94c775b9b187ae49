"""Agent console sessions: held by the server, named by a signed cookie, ended at logout or by an admin.

The cookie carries only a random session id, signed (itsdangerous) so a guessed or altered one is
refused before the store is asked. The session itself lives in the store: logging out, changing
a password or deactivating an agent ends it for every process at once, and the agent's open
sockets of that session are closed (an envelope on the agent's channel, ws/ closes them).
`authenticate` is the one check of the cookie, for REST and WebSocket alike.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from server import streams
from server.broker import Broker
from server.protocol import Error, ErrorCode, encode
from server.store.agents import AgentRecord
from server.store.sessions import ActiveSession, SessionStore

__all__ = ["COOKIE", "DEVICE_COOKIE", "DEVICE_MAX_AGE", "ActiveSession", "AgentSessions"]

COOKIE = "rapport_session"
# A device that logged in as an agent before: its own login limit, so that a stranger's guesses
# at that agent's password (which exhaust the account's limit) do not lock the agent out.
DEVICE_COOKIE = "rapport_device"
DEVICE_MAX_AGE = 365 * 86_400


class AgentSessions:
    def __init__(self, store: SessionStore, broker: Broker, secret_keys: list[str], max_age: int) -> None:
        self._store = store
        self._broker = broker
        self._serializer = URLSafeTimedSerializer(secret_keys[::-1], salt="rapport.agent-session")
        self._devices = URLSafeTimedSerializer(secret_keys[::-1], salt="rapport.agent-device")
        self.max_age = max_age

    async def start(self, agent: AgentRecord) -> tuple[ActiveSession, str]:
        """A new session for the agent, and the cookie value naming it."""
        session = await self._store.create(agent.id, self.max_age * 1000)
        return session, self._serializer.dumps({"s": session.id})

    async def authenticate(self, cookie: str | None) -> ActiveSession | None:
        """The active session a console cookie names (its agent enabled), or None."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        if not isinstance(data, dict) or not isinstance(data.get("s"), str):
            return None
        return await self._store.active(data["s"])

    async def active(self, session_id: str) -> bool:
        """Whether that session still holds (not ended, not expired, its agent enabled)."""
        return await self._store.active(session_id) is not None

    async def end(self, session: ActiveSession) -> None:
        if await self._store.end(session.id):
            await self._close_sockets(session.agent.id, [session.id], "you logged out")

    async def end_all(self, agent_id: str, *, keep: str | None = None, why: str) -> None:
        """End every session of the agent but `keep`, and close their sockets."""
        ended = await self._store.end_all(agent_id, keep=keep)
        await self._close_sockets(agent_id, ended, why)

    async def _close_sockets(self, agent_id: str, session_ids: list[str], why: str) -> None:
        frame = encode(Error(code=ErrorCode.UNAUTHORIZED, message=f"session ended: {why}"))
        await self._broker.publish_many(
            [(streams.agent(agent_id), streams.end_envelope(session_id, frame)) for session_id in session_ids]
        )

    # -------------------------------------------------------------- trusted devices

    def device_cookie(self, agent: AgentRecord) -> str:
        return self._devices.dumps({"a": agent.id, "e": agent.email.lower()})

    def device_of(self, cookie: str | None, email: str) -> str | None:
        """The agent id a device cookie vouches for, if it was given for this e-mail; else None."""
        if not cookie:
            return None
        try:
            data = self._devices.loads(cookie, max_age=DEVICE_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or data.get("e") != email.lower() or not isinstance(data.get("a"), str):
            return None
        return str(data["a"])
