"""Named events from the shop's back end ("purchased", ...), for triggered campaigns."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.api.endpoint import Call, Resource, shop
from server.protocol import Id, PropValue
from server.push.customers import ExternalId

resource = Resource("events")


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    customer_id: ExternalId
    name: Id
    props: Annotated[dict[Annotated[str, msgspec.Meta(max_length=64)], PropValue], msgspec.Meta(max_length=20)] = {}


@resource.endpoint(
    "POST",
    "/api/v1/events",
    summary="A customer did something (cross-sell and up-sell triggers)",
    access=shop("events", "admin"),
    body=EventIn,
    status=202,
)
async def customer_event(call: Call) -> None:
    body: EventIn = call.body
    await call.node.triggers.on_shop_event(body.customer_id, body.name, body.props)
