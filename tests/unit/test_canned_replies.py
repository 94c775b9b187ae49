"""chat/canned_replies.py: a body's placeholders are the campaigns' (`customer`), checked when saved and
filled for the conversation's customer; shortcuts are unique; what an admin typed is kept as typed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.chat.access import Actor
from server.chat.canned_replies import CannedReplies, CannedReplyChange, CannedReplyIn
from server.errors import Problem
from server.store.canned_replies import CannedReplyStore
from server.store.conversations import ConversationStore
from server.store.customers import CustomerAttributesStore
from server.store.db import Database
from tests.unit import chat_world as w
from tests.unit.push_world import add_customer

ADMIN = Actor(type="agent", id="a_admin", name="Ad", role="admin")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(str(tmp_path / "canned.db"))
    await database.open()
    yield database
    await database.close()


def service(db: Database) -> CannedReplies:
    return CannedReplies(CannedReplyStore(db), CustomerAttributesStore(db))


async def test_placeholders_are_filled_for_the_conversation_s_customer(db: Database) -> None:
    replies = service(db)
    reply = await replies.create(ADMIN, CannedReplyIn(
        title="Points", shortcut="points",
        body="Hi {{ customer.first_name or 'there' }}, you have {{ customer.loyalty_points }} points"
             " ({{ customer.tier }})."))
    ann = await add_customer(db, "shop-ann", name="Ann Lee", loyalty_points=1240, tier="gold")
    known = await ConversationStore(db).get(await w.conversation(db, ann))
    visitor = await ConversationStore(db).get(await w.conversation(db, await w.customer(db)))
    assert known is not None and visitor is not None
    assert (await replies.render(reply.id, known)).text == "Hi Ann, you have 1240 points (gold)."
    assert (await replies.render(reply.id, visitor)).text == "Hi there, you have 0 points ()."


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("Your code {{ voucher.code }}", "unknown variable"),
        ("{{ campaign.name }}", "unknown variable"),
        ("Hi {{ customer.first_name ", "syntax"),
        ("{% for i in range(10000) %}{% for j in range(10000) %}x{% endfor %}{% endfor %}", "too costly"),
    ],
)
async def test_a_body_that_cannot_render_is_refused_when_saved(db: Database, body: str, why: str) -> None:
    replies = service(db)
    with pytest.raises(Problem) as refused:
        await replies.create(ADMIN, CannedReplyIn(title="t", shortcut="s", body=body))
    assert refused.value.code == "invalid_request" and why in refused.value.message
    assert await replies.everyone() == []


async def test_shortcuts_are_unique_whatever_their_case(db: Database) -> None:
    replies = service(db)
    first = await replies.create(ADMIN, CannedReplyIn(title="Hello", shortcut="hi", body="Hello!"))
    with pytest.raises(Problem) as taken:
        await replies.create(ADMIN, CannedReplyIn(title="Hi", shortcut="HI", body="Hi!"))
    assert taken.value.code == "conflict"
    second = await replies.create(ADMIN, CannedReplyIn(title="Bye", shortcut="bye", body="Bye!"))
    with pytest.raises(Problem):
        await replies.change(second.id, CannedReplyChange(shortcut="Hi"))
    changed = await replies.change(first.id, CannedReplyChange(title="Greeting"))
    assert (changed.title, changed.shortcut, changed.body) == ("Greeting", "hi", "Hello!")
    await replies.delete(first.id)
    assert [r.shortcut for r in await replies.everyone()] == ["bye"]
    with pytest.raises(Problem):
        await replies.delete(first.id)


async def test_markup_in_a_reply_is_text_kept_as_typed(db: Database) -> None:
    replies = service(db)
    body = '<img src=x onerror="alert(1)"> & <b>{{ customer.name }}</b>'
    reply = await replies.create(ADMIN, CannedReplyIn(title="<script>x</script>", shortcut="x", body=body))
    ann = await add_customer(db, "shop-ann", name="<i>Ann</i>")
    conversation = await ConversationStore(db).get(await w.conversation(db, ann))
    assert conversation is not None
    # Not escaped (the console shows text as text), not stripped: exactly what was typed, filled.
    assert (await replies.render(reply.id, conversation)).text == '<img src=x onerror="alert(1)"> & <b><i>Ann</i></b>'
    assert (await replies.everyone())[0].title == "<script>x</script>"
