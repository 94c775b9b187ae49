"""Signed identities: visitor tokens we issue, and customer identities the shop's back end signs."""

from __future__ import annotations

import hashlib
import hmac
import time

import jwt
import msgspec
from itsdangerous import BadSignature, URLSafeTimedSerializer

from server.protocol import Identity


class IdentityError(Exception):
    """Proof of identity missing, forged or expired."""


class VerifiedCustomer(msgspec.Struct, frozen=True):
    user_id: str
    # Unix seconds after which the proof no longer holds (JWT exp); None for an HMAC, which the
    # shop cannot revoke: that is why JWT is the recommended form.
    expires_at: float | None
    # Only what the shop signed (JWT claims `name` and `email`): never what a browser says.
    name: str | None = None
    email: str | None = None


class VisitorTokens:
    """Tokens naming an anonymous visitor's customer record; they grant that record and no other."""

    def __init__(self, secret_keys: list[str], max_age: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_keys[::-1], salt="rapport.visitor")
        self._max_age = max_age

    def issue(self, customer_id: str) -> str:
        return self._serializer.dumps({"c": customer_id})

    def customer_id(self, token: str) -> str:
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except BadSignature as exc:  # SignatureExpired is a BadSignature
            raise IdentityError("visitor token is invalid or expired") from exc
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            raise IdentityError("visitor token is invalid")
        return str(data["c"])


def user_hash(shop_secret: str, user_id: str) -> str:
    """HMAC-SHA256(shop secret, user id) as hex: what the shop's back end computes (Intercom, Chatwoot)."""
    return hmac.new(shop_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_customer_token(
    token: str, shop_secret: str, *, leeway: float = 5.0, max_age: float = 7 * 86_400
) -> VerifiedCustomer:
    """A JWT (HS256, `sub` and a numeric `exp` required, `exp` at most `max_age` ahead) signed by
    the shop's back end with the shop secret; `name` and `email` claims, if signed, come along.

    `leeway`: seconds of clock difference allowed on `exp` (RAPPORT_CUSTOMER_TOKEN_LEEWAY). A
    far-future `exp` is refused: a leaked token must not be valid for a century.
    """
    try:
        claims = jwt.decode(
            token, shop_secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}, leeway=leeway
        )
    except jwt.PyJWTError as exc:
        raise IdentityError(f"customer token refused: {exc}") from exc
    sub, exp = claims.get("sub"), claims.get("exp")
    if not isinstance(sub, str) or not sub or len(sub) > 64:
        raise IdentityError("customer token has no usable subject")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise IdentityError("customer token's exp must be a number (Unix seconds)")
    if exp - time.time() > max_age:
        raise IdentityError(f"customer token lives longer than {int(max_age)} s; sign shorter-lived ones")
    name, email = claims.get("name"), claims.get("email")
    return VerifiedCustomer(
        user_id=sub,
        expires_at=float(exp) + leeway,
        name=name[:200] if isinstance(name, str) and name.strip() else None,
        email=email[:254] if isinstance(email, str) and "@" in email else None,
    )


def verify_customer(
    identity: Identity, shop_secret: str, *, leeway: float = 5.0, max_age: float = 7 * 86_400
) -> VerifiedCustomer:
    """Check the shop's proof that this browser belongs to `identity.user_id`."""
    if identity.token is not None:
        verified = verify_customer_token(identity.token, shop_secret, leeway=leeway, max_age=max_age)
        if verified.user_id != identity.user_id:
            raise IdentityError("customer token is for another user")
        return verified
    if identity.user_hash is not None:
        if not hmac.compare_digest(identity.user_hash.lower(), user_hash(shop_secret, identity.user_id)):
            raise IdentityError("user_hash does not match user_id")
        return VerifiedCustomer(user_id=identity.user_id, expires_at=None)
    raise IdentityError("identity needs a token (JWT) or a user_hash")


def still_valid(customer: VerifiedCustomer | None) -> bool:
    return customer is None or customer.expires_at is None or time.time() < customer.expires_at
