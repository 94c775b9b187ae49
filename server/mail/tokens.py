"""Signed tokens in mails: the reply address that names a conversation, and the unsubscribe link.

Both are short HMAC-SHA256 signatures (80 bits, base32) so they fit where they go: a reply
address's local part has at most 64 characters (RFC 5321), and a link should survive being
copied. The secret keys rotate like the others (the first signs, every one verifies).

- Reply address `reply+<conversation>.<day>.<signature>@<domain>`: signed over the conversation,
  its customer and the day it was issued. A reply names the conversation it answers; it is
  refused when forged, older than its maximum age, or when the conversation now belongs to
  someone else (the customer is part of what was signed, not of the address).
- Unsubscribe `<customer>.<signature>`: never expires (a link in an old mail must still work).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

_DAY = 86_400


def _signature(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def _same(a: str, b: str) -> bool:
    """Constant-time comparison of a signature we made with one we were given (any text)."""
    return hmac.compare_digest(a.encode(), b.encode("utf-8", "replace"))


def _keys(secret_keys: list[str], purpose: str) -> list[bytes]:
    return [hmac.new(k.encode(), purpose.encode(), hashlib.sha256).digest() for k in secret_keys]


class ReplyToken:
    """What a valid reply address names."""

    __slots__ = ("conversation_id", "issued_day")

    def __init__(self, conversation_id: str, issued_day: int) -> None:
        self.conversation_id = conversation_id
        self.issued_day = issued_day


class ReplyAddresses:
    def __init__(self, secret_keys: list[str], domain: str | None, max_age: int) -> None:
        self._keys = _keys(secret_keys, "rapport.mail-reply")
        self.domain = domain
        self._max_age_days = max(1, max_age // _DAY)

    def address(self, conversation_id: str, customer_id: str, *, now: float | None = None) -> str | None:
        """The reply address for a mail about this conversation; None without a reply domain."""
        if self.domain is None:
            return None
        day = int((now or time.time()) // _DAY)
        signature = _signature(self._keys[0], f"{conversation_id}.{customer_id}.{day}")
        return f"reply+{conversation_id}.{day:x}.{signature}@{self.domain}"

    def parse(self, address: str) -> tuple[ReplyToken, str] | None:
        """(what the address names, its signature) if it is shaped like one of ours; the
        signature is checked by `verify`, once the conversation's customer is known."""
        local, _, domain = address.strip().strip("<>").rpartition("@")
        if not local.lower().startswith("reply+") or not domain:
            return None
        parts = local[len("reply+") :].split(".")
        if len(parts) != 3:
            return None
        conversation_id, day_hex, signature = parts
        try:
            day = int(day_hex, 16)
        except ValueError:
            return None
        if not conversation_id or len(conversation_id) > 64:
            return None
        return ReplyToken(conversation_id, day), signature.lower()

    def verify(self, token: ReplyToken, signature: str, customer_id: str, *, now: float | None = None) -> bool:
        today = int((now or time.time()) // _DAY)
        if not 0 <= today - token.issued_day <= self._max_age_days:
            return False
        message = f"{token.conversation_id}.{customer_id}.{token.issued_day}"
        return any(_same(_signature(key, message), signature) for key in self._keys)


class UnsubscribeTokens:
    def __init__(self, secret_keys: list[str]) -> None:
        self._keys = _keys(secret_keys, "rapport.mail-unsubscribe")

    def token(self, customer_id: str) -> str:
        return f"{customer_id}.{_signature(self._keys[0], customer_id)}"

    def customer_of(self, token: str) -> str | None:
        """The customer a token names; None when it is not one we signed."""
        customer_id, _, signature = token.rpartition(".")
        if not customer_id or len(token) > 128:
            return None
        if any(_same(_signature(key, customer_id), signature.lower()) for key in self._keys):
            return customer_id
        return None
