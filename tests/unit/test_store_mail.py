"""The mail stores' guarantees on real SQLite files: a mail claimed by one of two processes at a
time, a lease that runs out makes it claimable again, consent checked when a mail is claimed,
outcomes recorded only by the claim's holder, dedupe keys, and reminders mailed only to customers
who were not on the site since they fired."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.ids import now_ms
from server.mail.message import new_message_id
from server.store.conversation_mail import ConversationMailStore
from server.store.db import Database
from server.store.inbox import Draft, InboxStore
from server.store.mail_fallback import MailFallbackStore, UnseenNotification
from server.store.mail_queue import MailQueueStore, NewMail, Outcome, add
from tests.unit.push_world import add_customer, open_database


def mail(key: str, *, marketing: bool = False, customer_id: str | None = None) -> NewMail:
    return NewMail(kind="notification", marketing=marketing, recipient=f"{key}@example.com", context={},
                   customer_id=customer_id, message_id=new_message_id("shop.test"), dedupe_key=key)


@pytest.fixture
async def dbs(tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """Two connections to one file, as two processes have."""
    first = await open_database(tmp_path)
    second = await open_database(tmp_path)
    yield first, second
    await first.close()
    await second.close()


async def test_two_claimers_never_share_a_mail(dbs: tuple[Database, Database]) -> None:
    a, b = dbs
    await a.write(lambda tx: add(tx, [mail(f"k{i}") for i in range(300)]))
    assert await a.write(lambda tx: add(tx, [mail("k0")])) == 0  # a dedupe key already held
    claimed: dict[str, list[str]] = {"a": [], "b": []}

    async def drain(name: str, db: Database) -> None:
        store = MailQueueStore(db)
        while batch := await store.claim(name, limit=7, lease_ms=60_000):
            claimed[name] += [m.id for m in batch]
            await store.settle(name, [Outcome(m.id, "sent") for m in batch])

    # Both hold a batch before either drains: one process finishing everything before the other
    # starts (a matter of scheduling) would prove nothing about sharing.
    firsts = await asyncio.gather(*(MailQueueStore(db).claim(name, limit=7, lease_ms=60_000)
                                    for name, db in (("a", a), ("b", b))))
    for name, db, batch in zip(("a", "b"), (a, b), firsts, strict=True):
        claimed[name] += [m.id for m in batch]
        await MailQueueStore(db).settle(name, [Outcome(m.id, "sent") for m in batch])
    await asyncio.gather(drain("a", a), drain("b", b))
    assert len(claimed["a"]) + len(claimed["b"]) == 300
    assert not set(claimed["a"]) & set(claimed["b"])
    assert claimed["a"] and claimed["b"]


async def test_a_lapsed_lease_is_claimable_again_and_the_late_holder_changes_nothing(
    dbs: tuple[Database, Database]
) -> None:
    a, b = dbs
    await a.write(lambda tx: add(tx, [mail("one")]))
    [first] = await MailQueueStore(a).claim("dead-process", limit=10, lease_ms=1)
    await asyncio.sleep(0.01)
    [again] = await MailQueueStore(b).claim("alive", limit=10, lease_ms=60_000)
    assert again.id == first.id and again.attempts == 2
    await MailQueueStore(a).settle("dead-process", [Outcome(first.id, "dead", "late")])
    await MailQueueStore(b).settle("alive", [Outcome(again.id, "sent")])
    row = await MailQueueStore(a).get(first.id)
    assert row is not None and row.status == "sent" and row.last_error is None


async def test_consent_is_checked_when_a_mail_is_claimed(dbs: tuple[Database, Database]) -> None:
    db, _ = dbs
    yes = await add_customer(db, "yes", marketing_consent=True, email="yes@example.com")
    no = await add_customer(db, "no", marketing_consent=True, email="no@example.com")
    await db.write(lambda tx: add(tx, [mail("m-yes", marketing=True, customer_id=yes),
                                       mail("m-no", marketing=True, customer_id=no),
                                       mail("t-no", marketing=False, customer_id=no)]))
    await db.run("UPDATE customers SET marketing_consent = 0 WHERE id = ?", (no,))
    claimed = await MailQueueStore(db).claim("p", limit=10, lease_ms=60_000)
    assert sorted(m.recipient for m in claimed) == ["m-yes@example.com", "t-no@example.com"]
    assert (await MailQueueStore(db).counts()) == {"queued": 2, "suppressed": 1}


async def test_reminders_are_mailed_only_to_customers_not_on_the_site_since(dbs: tuple[Database, Database]) -> None:
    db, _ = dbs
    here = await add_customer(db, "here", email="here@example.com")
    away = await add_customer(db, "away", email="away@example.com")
    seen = await add_customer(db, "seen", email="seen@example.com")
    inbox = InboxStore(db)
    birthday = Draft(kind="reminder", marketing=False, title="Happy birthday!", body="From all of us")
    await inbox.append([(here, birthday), (away, birthday), (seen, birthday)])
    fired = now_ms()
    await ConversationMailStore(db).stamp_seen([here], fired + 5)
    await inbox.record_action(seen, 1, "delivered", None)
    planned: list[UnseenNotification] = []

    def plan(n: UnseenNotification) -> NewMail:
        planned.append(n)
        return mail(f"notification:{n.customer_id}:{n.seq}", customer_id=n.customer_id)

    store = MailFallbackStore(db)
    window = {"before": fired + 1000, "after": fired - 1000, "now": fired + 1000, "absent": True}
    assert await store.mail_unseen("reminder", **window, plan=plan) == 1  # type: ignore[arg-type]
    assert [n.email for n in planned] == ["away@example.com"]
    assert await store.mail_unseen("reminder", **window, plan=plan) == 0  # type: ignore[arg-type]
    assert not await store.any_unseen("reminder", before=fired + 1000, after=fired - 1000, now=fired + 1000,
                                      absent=True)
