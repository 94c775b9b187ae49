"""Identifiers and the server clock: random, non-sequential ids (no enumeration) and server time."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    """`prefix_` + 16 random url-safe characters (96 bits): unguessable, so ids leak nothing."""
    return f"{prefix}_{secrets.token_urlsafe(12)}"


def now_ms() -> int:
    """Server wall clock in milliseconds: the only clock that orders, expires or schedules anything."""
    return time.time_ns() // 1_000_000
