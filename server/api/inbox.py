"""The console's inbox views over REST: Waiting, Mine, All open (with who has each), Closed (paged)."""

from __future__ import annotations

from server.api.endpoint import Call, Query, Resource, console
from server.chat.inbox_views import VIEWS, InboxPage
from server.errors import Problem
from server.protocol import ErrorCode

resource = Resource("inbox")


@resource.endpoint(
    "GET",
    "/api/v1/inbox",
    summary="A view of the inbox: waiting, mine, open (everyone's, with who has each) or closed (paged)",
    access=console("agent", "admin"),
    response=InboxPage,
    query={
        "view": Query(str, "mine", "waiting, mine, open or closed", max_length=10),
        "before": Query(str, None, "closed: the next_before of the previous page", max_length=100),
        "limit": Query(int, 100, "most conversations returned", low=1, high=500),
    },
)
async def inbox_view(call: Call) -> InboxPage:
    assert call.actor is not None  # noqa: S101 - a console session
    view = call.query["view"]
    if view not in VIEWS:
        raise Problem(ErrorCode.INVALID_REQUEST, f"`view` is one of {', '.join(VIEWS)}")
    return await call.node.inbox_views.view(call.actor, view, before=call.query["before"], limit=call.query["limit"])
