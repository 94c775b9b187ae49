"""API keys of the shop's back end: the one authenticator of `Authorization: Bearer rk_...`, and their management."""

from __future__ import annotations

from server.chat.access import Actor
from server.errors import Problem
from server.protocol import ErrorCode
from server.store.api_keys import ApiKey, ApiKeyStore

__all__ = ["ApiKey", "ShopKeys", "bearer_of"]


def bearer_of(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = authorization.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


class ShopKeys:
    def __init__(self, store: ApiKeyStore) -> None:
        self._store = store

    async def authenticate(self, token: str, scope: str) -> Actor:
        """The shop's back end holding `scope` (or "*") with this key, or Problem 401/403."""
        key = await self._store.verify(token)
        if key is None:
            raise Problem(ErrorCode.UNAUTHORIZED, "unknown or revoked API key")
        if scope not in key.scopes and "*" not in key.scopes:
            raise Problem(ErrorCode.FORBIDDEN, f"this API key lacks the `{scope}` scope")
        return Actor(type="shop", id=key.id, name=key.name)

    async def create(self, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
        return await self._store.create(name, scopes)

    async def everything(self) -> list[ApiKey]:
        return await self._store.everything()

    async def revoke(self, key_id: str) -> None:
        if not await self._store.revoke(key_id):
            raise Problem(ErrorCode.NOT_FOUND, "no such active key")
