"""Rates a client cannot sidestep by reconnecting: frames per customer or agent, connections and pauses per address.

Held by each server process (not shared through the store: these checks run on every frame).
With N processes behind a balancer a client gets at most N times these rates; the limits that
protect what is stored (new conversations, logins) are counted in the store instead.
"""

from __future__ import annotations

import time

_IDLE = 120.0  # seconds after which an untouched bucket or pause is forgotten
_PRUNE_ABOVE = 10_000  # entries before forgetting idle ones (a visitor per connected shopper)


class Bucket:
    """Token bucket: `rate` per second sustained, `burst` above it."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = time.monotonic()

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Limits:
    def __init__(self, *, frames_per_second: float, frame_burst: int, connects_per_minute: int, pause: float) -> None:
        self._frame_rate = (frames_per_second, float(frame_burst))
        self._connect_rate = (connects_per_minute / 60.0, float(max(1, connects_per_minute // 2)))
        self._pause = pause
        self._frames: dict[str, Bucket] = {}
        self._connects: dict[str, Bucket] = {}
        self._paused: dict[str, float] = {}

    def frame(self, who: str) -> bool:
        """May `who` (a customer or agent id, whichever of their sockets sends it) send a frame now?"""
        return self._take(self._frames, who, self._frame_rate)

    def connect(self, address: str) -> float:
        """0 if a new socket from this address may start now, else the seconds to wait."""
        now = time.monotonic()
        until = self._paused.get(address, 0.0)
        if until > now:
            return until - now
        return 0.0 if self._take(self._connects, address, self._connect_rate) else 1.0

    def paused(self, who: str) -> float:
        """Seconds `who` must still wait after being closed for sending too fast (0: none)."""
        return max(0.0, self._paused.get(who, 0.0) - time.monotonic())

    def pause(self, *keys: str) -> None:
        """Closed for sending too fast: refuse these (a customer, an address) for a while."""
        until = time.monotonic() + self._pause
        for key in keys:
            self._paused[key] = until

    def _take(self, buckets: dict[str, Bucket], key: str, rate: tuple[float, float]) -> bool:
        now = time.monotonic()
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) > _PRUNE_ABOVE:
                self._prune(buckets, now)
            bucket = buckets[key] = Bucket(*rate)
        return bucket.take(now)

    def _prune(self, buckets: dict[str, Bucket], now: float) -> None:
        for key in [k for k, b in buckets.items() if now - b.last > _IDLE]:
            del buckets[key]
        for key in [k for k, until in self._paused.items() if until < now]:
            del self._paused[key]
