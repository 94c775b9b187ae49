"""API keys for the shop's back end, managed by admins."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from server.api.endpoint import Call, Resource, console
from server.auth.api_keys import ApiKey

resource = Resource("api keys")
ADMINS = console("admin")

Scope = Literal["customers", "orders", "segments", "campaigns", "vouchers", "reminders", "events", "conversations", "*"]


class NewKey(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=20)]


class CreatedKey(msgspec.Struct):
    key: ApiKey
    # Shown once: only a hash is kept.
    token: str


class KeyList(msgspec.Struct):
    keys: list[ApiKey]


@resource.endpoint(
    "POST",
    "/api/v1/api-keys",
    summary="Create an API key (the token is shown once)",
    access=ADMINS,
    body=NewKey,
    response=CreatedKey,
    status=201,
)
async def create_key(call: Call) -> CreatedKey:
    body: NewKey = call.body
    key, token = await call.node.shop_keys.create(body.name, list(body.scopes))
    return CreatedKey(key=key, token=token)


@resource.endpoint(
    "GET",
    "/api/v1/api-keys",
    summary="API keys (without secrets)",
    access=ADMINS,
    response=KeyList,
)
async def list_keys(call: Call) -> KeyList:
    return KeyList(keys=await call.node.shop_keys.everything())


@resource.endpoint("DELETE", "/api/v1/api-keys/{key_id:str}", summary="Revoke an API key", access=ADMINS)
async def revoke_key(call: Call) -> None:
    await call.node.shop_keys.revoke(call.path["key_id"])
