"""store/transcript_search.py: every word found as soon as it is stored, ranked by bm25, one hit per
conversation with its snippet marked, what a person typed never taken as query syntax, and an
agent finding only the conversations they may read. The migration indexes what was stored before it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.store.db import Database, _apply, _migrations
from server.store.transcript_search import MARK_END, MARK_START, Scope, TranscriptSearch, match_expression
from tests.unit import chat_world as w

EVERYONE = Scope()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(str(tmp_path / "search.db"))
    await database.open()
    yield database
    await database.close()


async def test_the_most_relevant_conversation_comes_first_with_its_best_message(db: Database) -> None:
    ann = await w.customer(db, "Ann")
    bob = await w.customer(db, "Bob")
    cid = await w.customer(db, "Cid")
    about_refunds = await w.conversation(db, ann)
    await w.say(db, about_refunds, "Hello, I bought shoes last week and they are too small")
    best = await w.say(db, about_refunds, "I want a refund, a refund for the shoes please")
    mentions_once = await w.conversation(db, bob)
    await w.say(db, mentions_once, "Is there a fee for the refund of a long order with many items and a long story")
    unrelated = await w.conversation(db, cid)
    await w.say(db, unrelated, "Do you ship to Norway?")

    hits = await TranscriptSearch(db).messages("refund", EVERYONE, 10)

    assert [h.conversation.id for h in hits] == [about_refunds, mentions_once]
    assert hits[0].seq == best.seq and hits[0].rank < hits[1].rank
    assert hits[0].conversation.customer_name == "Ann" and hits[0].author_type == "customer"
    assert f"{MARK_START}refund{MARK_END}" in hits[0].snippet


async def test_every_word_must_appear_and_the_last_may_be_half_typed(db: Database) -> None:
    conv = await w.conversation(db, await w.customer(db, "Ann"))
    await w.say(db, conv, "My parcel never arrived in Oslo")
    search = TranscriptSearch(db)
    assert [h.conversation.id for h in await search.messages("parcel arr", EVERYONE, 10)] == [conv]
    assert await search.messages("parcel Bergen", EVERYONE, 10) == []


async def test_accents_and_case_are_folded(db: Database) -> None:
    conv = await w.conversation(db, await w.customer(db, "Zoë"))
    await w.say(db, conv, "Un CAFÉ crème, s'il vous plaît")
    hits = await TranscriptSearch(db).messages("cafe creme", EVERYONE, 10)
    assert [h.conversation.id for h in hits] == [conv]
    assert f"{MARK_START}CAFÉ{MARK_END}" in hits[0].snippet


@pytest.mark.parametrize("typed", ['refund" OR "x', "refund*", "NEAR(refund", "refund AND", "(refund)", "refund:"])
async def test_query_syntax_typed_by_a_person_is_words_not_syntax(db: Database, typed: str) -> None:
    conv = await w.conversation(db, await w.customer(db, "Ann"))
    await w.say(db, conv, "refund or x and near")
    hits = await TranscriptSearch(db).messages(typed, EVERYONE, 10)  # never an FTS5 syntax error
    assert [h.conversation.id for h in hits] == [conv]


def test_nothing_to_search_for_without_a_word() -> None:
    assert match_expression(' " * ( ) ') is None
    assert match_expression("où est") == '"où" "est"*'


async def test_notes_are_found_and_an_edit_is_found_at_the_message_it_edits(db: Database) -> None:
    agent = await w.agent(db, "Sam")
    conv = await w.conversation(db, await w.customer(db, "Ann"))
    note = await w.say(db, conv, "VIP: offer free express shipping", by="agent", author_id=agent, note=True)
    message = await w.say(db, conv, "Your order ships tomorow", by="agent", author_id=agent)
    await w.record(db, conv, kind="edit", text="Your order ships tomorrow morning", target_seq=message.seq,
                   author_type="agent", author_id=agent)
    search = TranscriptSearch(db)
    [found_note] = await search.messages("express", EVERYONE, 10)
    assert (found_note.seq, found_note.kind) == (note.seq, "note")
    [found_edit] = await search.messages("morning", EVERYONE, 10)
    assert (found_edit.seq, found_edit.kind) == (message.seq, "message")


async def test_an_agent_finds_their_own_and_the_waiting_ones_an_admin_everything(db: Database) -> None:
    ann_agent, bob_agent = await w.agent(db, "Ann"), await w.agent(db, "Bob")
    customer = await w.customer(db, "Cy")
    anns = await w.conversation(db, customer)
    bobs = await w.conversation(db, customer)
    waiting = await w.conversation(db, customer)
    for conv in (anns, bobs, waiting):
        await w.say(db, conv, "warranty question")
    await w.assign(db, anns, ann_agent, "closed")
    await w.assign(db, bobs, bob_agent)
    search = TranscriptSearch(db)

    def ids(hits: list) -> set[str]:  # type: ignore[type-arg]
        return {h.conversation.id for h in hits}

    assert ids(await search.messages("warranty", Scope(reader=ann_agent), 10)) == {anns, waiting}
    assert ids(await search.messages("warranty", EVERYONE, 10)) == {anns, bobs, waiting}
    assert ids(await search.messages("warranty", Scope(assignee=bob_agent), 10)) == {bobs}
    assert ids(await search.messages("warranty", Scope(reader=ann_agent, assignee=bob_agent), 10)) == set()


async def test_customers_are_found_by_name_email_or_shop_id_with_wildcards_taken_literally(db: Database) -> None:
    ann = await w.customer(db, "Ann Lee", email="ann@example.com", external_id="shop-42")
    other = await w.customer(db, "Annabel_Smith")
    conv = await w.conversation(db, ann)
    other_conv = await w.conversation(db, other)
    search = TranscriptSearch(db)
    assert [c.id for c in await search.customers("ann@exa", EVERYONE, 10)] == [conv]
    assert [c.id for c in await search.customers("shop-42", EVERYONE, 10)] == [conv]
    assert {c.id for c in await search.customers("ann", EVERYONE, 10)} == {conv, other_conv}
    assert [c.id for c in await search.customers("l_S", EVERYONE, 10)] == [other_conv]  # _ is a character
    assert await search.customers("%", EVERYONE, 10) == []


async def test_the_migration_indexes_and_counts_what_was_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    for version, _name, sql in _migrations():
        if version < 9:
            raw.execute("BEGIN")
            _apply(raw, version, sql)
            raw.execute("COMMIT")
    raw.execute("INSERT INTO agents (id, email, name, role, password_hash, created_at)"
                " VALUES ('a1', 'a@x', 'Sam', 'agent', 'x', 0)")
    raw.execute("INSERT INTO customers (id, name, created_at) VALUES ('cu1', 'Ann', 0)")
    raw.execute("INSERT INTO conversations (id, customer_id, status, agent_id, last_seq, created_at, updated_at)"
                " VALUES ('c1', 'cu1', 'assigned', 'a1', 5, 0, 50)")
    raw.executemany(
        "INSERT INTO events (conversation_id, seq, kind, author_type, text, agent_id, target_seq, at)"
        " VALUES ('c1', ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "message", "customer", "my bicycle is broken", None, None, 10),
            (2, "assigned", "system", None, "a1", None, 20),
            (3, "read", "agent", None, None, 1, 30),
            (4, "message", "customer", "hello?", None, None, 40),
            (5, "message", "customer", "anyone?", None, None, 50),
        ],
    )
    raw.close()
    db = Database(str(path))
    await db.open()
    try:
        assert db.applied[0] == "0009_agent_workspace.sql"  # and any later migration
        [hit] = await TranscriptSearch(db).messages("bicycle", EVERYONE, 10)
        assert (hit.conversation.id, hit.seq) == ("c1", 1)
        assert (hit.conversation.agent_unread, hit.conversation.last_message_at) == (2, 50)
        row = await db.fetchone("SELECT agent_name FROM events WHERE conversation_id = 'c1' AND seq = 2")
        assert row is not None and row["agent_name"] == "Sam"
    finally:
        await db.close()


def test_a_snippet_marks_the_words_as_the_index_matched_them_and_cuts_around_the_first() -> None:
    from server.store.transcript_search import snippet

    marked = snippet("Hello! My Café order #12 was refunded twice, the cafe says no.", ["cafe", "refun"])
    assert marked == f"Hello! My {MARK_START}Café{MARK_END} order #12 was {MARK_START}refunded{MARK_END} twice, the" \
                     f" {MARK_START}cafe{MARK_END} says no."
    long = " ".join(f"w{n}" for n in range(100)) + " parcel " + " ".join(f"v{n}" for n in range(100))
    cut = snippet(long, ["parcel"], around=8)
    assert cut.startswith("…w97 w98 w99 ") and f"{MARK_START}parcel{MARK_END}" in cut and cut.endswith("…")


async def test_a_very_common_word_is_ranked_among_its_latest_matches(db: Database,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from server.store import transcript_search

    monkeypatch.setattr(transcript_search, "RECENT_MATCHES", 3)
    customer = await w.customer(db, "Ann")
    old = await w.conversation(db, customer)
    await w.say(db, old, "parcel parcel parcel parcel: the best match, but long ago")
    recent = []
    for n in range(3):
        conv = await w.conversation(db, customer)
        await w.say(db, conv, f"where is my parcel number {n} and the rest of a long sentence about nothing")
        recent.append(conv)
    hits = await TranscriptSearch(db).messages("parcel", EVERYONE, 10)
    assert {h.conversation.id for h in hits} == set(recent)
    rare = await TranscriptSearch(db).messages("long ago", EVERYONE, 10)  # a rarer word reaches back
    assert [h.conversation.id for h in rare] == [old]
