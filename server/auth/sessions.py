"""Agent console sessions: a signed, expiring cookie naming the agent and their session version."""

from __future__ import annotations

import time

from itsdangerous import BadSignature, URLSafeTimedSerializer

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
    """At most 10 failed logins per e-mail per 5 minutes (CVE-2022-3741: unlimited guessing)."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self._limit = limit
        self._window = window
        self._failures: dict[str, list[float]] = {}

    def blocked(self, key: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self._failures.get(key, []) if now - t < self._window]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return len(recent) >= self._limit

    def failed(self, key: str) -> None:
        self._failures.setdefault(key, []).append(time.monotonic())
