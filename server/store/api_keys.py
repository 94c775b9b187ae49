"""API keys of the shop's back end: scoped, revocable, stored only as a hash.

Guarantees: the secret part of a key is never stored (a SHA-256 of it is, compared in constant
time); a revoked key verifies as None from the revocation's commit on, on every process;
`create` returns the token once and it cannot be read back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

import msgspec

from server.ids import new_id, now_ms
from server.store.db import Database

SCOPES = ("customers", "orders", "segments", "campaigns", "vouchers", "reminders", "events", "conversations")


class ApiKey(msgspec.Struct):
    id: str
    name: str
    scopes: list[str]
    created_at: int
    last_used_at: int | None = None
    revoked_at: int | None = None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
        """The key and its token `rk_<id>_<secret>`; the token is shown once and never stored."""
        key_id = new_id("k").replace("_", "")
        secret = secrets.token_urlsafe(32)
        now = now_ms()
        await self.db.run(
            "INSERT INTO api_keys (id, name, secret_hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)",
            (key_id, name, _hash(secret), json.dumps(sorted(set(scopes))), now),
        )
        return ApiKey(id=key_id, name=name, scopes=sorted(set(scopes)), created_at=now), f"rk_{key_id}_{secret}"

    async def verify(self, token: str) -> ApiKey | None:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "rk":
            return None
        row = await self.db.fetchone("SELECT * FROM api_keys WHERE id = ?", (parts[1],))
        if row is None or row["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(row["secret_hash"], _hash(parts[2])):
            return None
        return ApiKey(
            id=row["id"],
            name=row["name"],
            scopes=json.loads(row["scopes"]),
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
        )

    async def everything(self) -> list[ApiKey]:
        rows = await self.db.fetchall("SELECT * FROM api_keys ORDER BY created_at")
        return [
            ApiKey(
                id=r["id"],
                name=r["name"],
                scopes=json.loads(r["scopes"]),
                created_at=r["created_at"],
                last_used_at=r["last_used_at"],
                revoked_at=r["revoked_at"],
            )
            for r in rows
        ]

    async def revoke(self, key_id: str) -> bool:
        changed = await self.db.run(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now_ms(), key_id)
        )
        return changed > 0
