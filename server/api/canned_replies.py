"""Canned replies: admins manage them; agents list them and render one for a conversation."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.api.endpoint import Call, Resource, console
from server.chat.canned_replies import CannedReplyChange, CannedReplyIn, CannedReplyOut, Rendered

resource = Resource("canned replies")
ADMINS = console("admin")
ANSWERING = console("agent", "admin")


class CannedReplyList(msgspec.Struct):
    replies: list[CannedReplyOut]


class RenderIn(msgspec.Struct, forbid_unknown_fields=True):
    conversation_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


@resource.endpoint(
    "GET", "/api/v1/canned-replies", summary="Every canned reply", access=ANSWERING, response=CannedReplyList
)
async def list_replies(call: Call) -> CannedReplyList:
    return CannedReplyList(replies=await call.node.canned_replies.everyone())


@resource.endpoint(
    "POST",
    "/api/v1/canned-replies",
    summary="Create a canned reply (the body is checked as a template: `customer` placeholders only)",
    access=ADMINS,
    body=CannedReplyIn,
    response=CannedReplyOut,
    status=201,
)
async def create_reply(call: Call) -> CannedReplyOut:
    assert call.actor is not None  # noqa: S101 - a console session
    return await call.node.canned_replies.create(call.actor, call.body)


@resource.endpoint(
    "PATCH",
    "/api/v1/canned-replies/{reply_id:str}",
    summary="Change a canned reply's title, shortcut or body",
    access=ADMINS,
    body=CannedReplyChange,
    response=CannedReplyOut,
)
async def change_reply(call: Call) -> CannedReplyOut:
    return await call.node.canned_replies.change(call.path["reply_id"], call.body)


@resource.endpoint(
    "DELETE", "/api/v1/canned-replies/{reply_id:str}", summary="Delete a canned reply", access=ADMINS
)
async def delete_reply(call: Call) -> None:
    await call.node.canned_replies.delete(call.path["reply_id"])


@resource.endpoint(
    "POST",
    "/api/v1/canned-replies/{reply_id:str}/render",
    summary="A canned reply's text for a conversation's customer (placeholders filled)",
    access=ANSWERING,
    body=RenderIn,
    response=Rendered,
)
async def render_reply(call: Call) -> Rendered:
    assert call.actor is not None  # noqa: S101 - a console session
    conversation = await call.node.inbox_views.readable_history(call.actor, call.body.conversation_id)
    return await call.node.canned_replies.render(call.path["reply_id"], conversation)
