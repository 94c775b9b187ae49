"""The inbox's numbers as the write path keeps them (store/conversations.py append): unread customer
messages per conversation and the last message's time; and the views as chat/inbox_views.py serves
them to agents and admins (who has each, what an agent may read, closed pages, history backwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.chat.access import Actor
from server.chat.inbox_views import InboxViews
from server.errors import Problem
from server.store.conversations import ConversationStore
from server.store.db import Database
from tests.unit import chat_world as w


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(str(tmp_path / "inbox.db"))
    await database.open()
    yield database
    await database.close()


async def summary(db: Database, conversation_id: str):  # type: ignore[no-untyped-def]
    found = await ConversationStore(db).get(conversation_id)
    assert found is not None
    return found


async def test_unread_counts_the_customer_messages_after_the_agents_last_read(db: Database) -> None:
    sam = await w.agent(db, "Sam")
    conv = await w.conversation(db, await w.customer(db, "Ann"))
    first = await w.say(db, conv, "hello")
    await w.say(db, conv, "anyone there?")
    assert (await summary(db, conv)).agent_unread == 2
    await w.say(db, conv, "internal", by="agent", author_id=sam, note=True)  # notes are not the customer's
    await w.say(db, conv, "Hi!", by="agent", author_id=sam)
    await w.record(db, conv, kind="read", target_seq=first.seq, author_type="customer", author_id="x")
    assert (await summary(db, conv)).agent_unread == 2  # the customer reading changes nothing here
    await w.record(db, conv, kind="read", target_seq=first.seq, author_type="agent", author_id=sam)
    assert (await summary(db, conv)).agent_unread == 1  # read up to the first: the second is still unread
    last = await w.say(db, conv, "my order number is 12")
    assert (await summary(db, conv)).agent_unread == 2
    await w.record(db, conv, kind="read", target_seq=last.seq, author_type="agent", author_id=sam)
    after = await summary(db, conv)
    assert after.agent_unread == 0 and after.last_message_at == last.at


async def test_assigned_events_name_the_agent_who_takes_over(db: Database) -> None:
    conv = await w.conversation(db, await w.customer(db))
    event = await w.record(db, conv, kind="assigned", agent_id="a_x", agent_name="Bob", author_type="agent",
                           author_id="a_y", author_name="Ann")
    [stored] = await ConversationStore(db).events_after(conv, event.seq - 1, 1)
    assert (stored.event.author_name, stored.event.agent_name) == ("Ann", "Bob")


async def test_all_open_lists_everyone_s_with_who_has_each_but_not_what_others_were_told(db: Database) -> None:
    ann, bob = await w.agent(db, "Ann"), await w.agent(db, "Bob")
    customer = await w.customer(db, "Cy")
    anns, bobs, waiting, closed = [await w.conversation(db, customer) for _ in range(4)]
    for conv, text in ((anns, "ann's"), (bobs, "bob's secret"), (waiting, "queue"), (closed, "old")):
        await w.say(db, conv, text)
    await w.assign(db, anns, ann)
    await w.assign(db, bobs, bob)
    await w.assign(db, closed, ann, "closed")
    views = InboxViews(ConversationStore(db))
    as_ann = Actor(type="agent", id=ann, name="Ann", role="agent")
    page = await views.view(as_ann, "open", before=None, limit=50)
    listed = {c.id: c for c in page.conversations}
    assert set(listed) == {anns, bobs, waiting}
    assert listed[bobs].agent_id == bob and listed[bobs].preview is None
    assert listed[anns].preview == "ann's" and listed[waiting].preview == "queue"
    admin = Actor(type="agent", id="a_admin", name="Ad", role="admin")
    everything = {c.id: c for c in (await views.view(admin, "open", before=None, limit=50)).conversations}
    assert everything[bobs].preview == "bob's secret"


async def test_closed_pages_follow_each_other_without_gap_or_repeat(db: Database) -> None:
    ann, bob = await w.agent(db, "Ann"), await w.agent(db, "Bob")
    customer = await w.customer(db, "Cy")
    anns = []
    for n in range(7):
        conv = await w.conversation(db, customer)
        await w.say(db, conv, f"n{n}")
        await w.assign(db, conv, ann if n != 3 else bob, "closed")
        if n != 3:
            anns.append(conv)
    views = InboxViews(ConversationStore(db))
    as_ann = Actor(type="agent", id=ann, name="Ann", role="agent")
    seen: list[str] = []
    before = None
    while True:
        page = await views.view(as_ann, "closed", before=before, limit=2)
        seen += [c.id for c in page.conversations]
        before = page.next_before
        if before is None:
            break
    assert sorted(seen) == sorted(anns) and len(seen) == len(set(seen))
    with pytest.raises(Problem):
        await views.view(as_ann, "closed", before="not-a-cursor", limit=2)


async def test_history_reads_back_in_pages_and_an_agent_reads_only_what_they_may(db: Database) -> None:
    ann, bob = await w.agent(db, "Ann"), await w.agent(db, "Bob")
    customer, stranger = await w.customer(db, "Cy"), await w.customer(db, "Di")
    old = await w.conversation(db, customer)
    for n in range(1, 8):
        await w.say(db, old, f"line {n}")
    await w.assign(db, old, bob, "closed")
    others_closed = await w.conversation(db, stranger)
    await w.say(db, others_closed, "not yours")
    await w.assign(db, others_closed, bob, "closed")
    views = InboxViews(ConversationStore(db))
    as_ann = Actor(type="agent", id=ann, name="Ann", role="agent")

    with pytest.raises(Problem) as refused:
        await views.history(as_ann, old, before=None, limit=3)
    assert refused.value.code == "not_found"
    current = await w.conversation(db, customer)  # Ann answers the customer now: their past is hers to read
    await w.say(db, current, "hi again")
    await w.assign(db, current, ann)

    page = await views.history(as_ann, old, before=None, limit=3)
    assert [e.text for e in page.events] == ["line 5", "line 6", "line 7"] and not page.writable
    texts = [e.text for e in page.events]
    while page.next_before is not None:
        page = await views.history(as_ann, old, before=page.next_before, limit=3)
        texts = [e.text for e in page.events] + texts
    assert texts == [f"line {n}" for n in range(1, 8)]
    with pytest.raises(Problem):
        await views.history(as_ann, others_closed, before=None, limit=3)
    assert (await views.history(as_ann, current, before=None, limit=3)).writable
