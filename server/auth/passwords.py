"""Agent passwords: the rules a new one must meet, and Argon2id hashes checked off the event loop."""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool

from server.settings import Settings

# NIST SP 800-63B, 3.1.1.2: at least 8 characters, 15 recommended for single-factor; Rapport asks
# for 12, allows up to 1000 (a passphrase), and checks a list of common passwords. No composition
# rules and no forced rotation: the standard says they make passwords worse.
MIN_LENGTH = 12
MAX_LENGTH = 1000


# Characters in order, forwards and backwards, that people take for a password (NIST SP 800-63B
# names "sequential characters"): a password that is one stretch of any of these is refused.
_ORDERS = ("0123456789" * 4, "abcdefghijklmnopqrstuvwxyz" * 2, "qwertyuiopasdfghjklzxcvbnm" * 2, "qwertzuiop" * 3,
           "azertyuiop" * 3, "1qaz2wsx3edc4rfv5tgb6yhn7ujm" * 2)
_RUNS = (*_ORDERS, *(order[::-1] for order in _ORDERS))


@functools.cache
def _common() -> frozenset[str]:
    text = resources.files("server.auth").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def weakness(password: str, *, email: str = "") -> str | None:
    """Why this password may not be used (in words for the person choosing it), or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    lowered = password.lower()
    # "password2024!" and "qwertyqwerty" are as guessable as the word they are made of.
    stem = re.sub(r"[\d\W_]+$", "", lowered)
    half = len(lowered) // 2
    repeated = lowered[:half] if len(lowered) % 2 == 0 and lowered[:half] == lowered[half:] else ""
    if lowered in _common() or (len(stem) >= 4 and stem in _common()) or repeated in _common():
        return "this password is among the most common ones; choose another"
    if len(set(lowered)) < 4:
        return "a password needs more than a few different characters"
    if any(lowered in run for run in _RUNS):
        return "a password must not be a run of keys or digits in order (like 123456789012 or qwertyuiop)"
    local = email.lower().partition("@")[0]
    if len(local) >= 4 and local in lowered:
        return "a password must not contain the e-mail address"
    return None


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        # Each hash holds argon2_memory_kib of RAM: a burst of logins must not exhaust memory.
        self._slots = asyncio.Semaphore(2)
        # Checked instead of an account's hash when there is no such account, so that an unknown
        # e-mail costs as long to refuse as a wrong password (no account discovery by timing).
        self._absent: str | None = None

    def hash_now(self, password: str) -> str:
        """Blocking: for the command line and first start only."""
        return self._hasher.hash(password)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await run_in_threadpool(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash (no such account), False after as long."""
        if password_hash is None:
            if self._absent is None:
                self._absent = await self.hash(secrets.token_urlsafe(16))
            await self.verify(self._absent, password)
            return False
        async with self._slots:
            try:
                return bool(await run_in_threadpool(self._hasher.verify, password_hash, password))
            except (VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
