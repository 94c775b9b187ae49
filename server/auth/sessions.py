"""Agent console sessions: a signed, expiring cookie naming the agent and their session version."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from server.ids import now_ms
from server.store.agents import AgentStore

COOKIE = "rapport_session"


class AgentSessions:
    def __init__(self, secret_keys: list[str], max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_keys[::-1], salt="rapport.agent-session")
        self.max_age = max_age

    def issue(self, agent_id: str, version: int) -> str:
        return self._serializer.dumps({"a": agent_id, "v": version})

    def read(self, cookie: str | None) -> tuple[str, int] | None:
        """(agent_id, session_version) or None; the caller compares the version with the agent's."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("a"), str) or not isinstance(data.get("v"), int):
            return None
        return data["a"], data["v"]


class LoginThrottle:
    """At most 10 failed logins per e-mail per 5 minutes (CVE-2022-3741: unlimited guessing),
    counted in the store, so across every process of the deployment."""

    def __init__(self, agents: AgentStore, limit: int = 10, window: float = 300.0) -> None:
        self._agents = agents
        self._limit = limit
        self._window_ms = int(window * 1000)

    async def blocked(self, key: str) -> bool:
        return await self._agents.login_failures_since(key, now_ms() - self._window_ms) >= self._limit

    async def failed(self, key: str) -> None:
        now = now_ms()
        await self._agents.record_login_failure(key, now, forget_before=now - self._window_ms)
