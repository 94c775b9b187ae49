"""Pushes that did not reach a customer live, found and queued as mail: order updates and
reminders unseen for a while, and campaigns that asked for e-mail after a deadline.

Guarantees:
- A notification counts as seen when the widget reported it (delivered, opened, clicked or
  dismissed). Only unseen ones are mailed, each at most once (the dedupe key
  `notification:<customer>:<seq>` or `campaign:<campaign>:<customer>` in the mail queue, whose
  unique index settles races between processes).
- Each `mail_*` method finds and queues in one write transaction, with its conditions checked in
  it; the plan (what the mail says, decided by the mail service) runs inside it and must not raise,
  block or await.
- Campaign mail goes only to customers who consent to marketing at the time of the decision
  (the queue checks again when it sends), and only to those who hold the campaign's notification,
  which the push engine stored under its consent rules and daily cap: a mail is the e-mail copy
  of a notification the cap counted, so the cap holds across both channels.
- A campaign's audience is walked in the order of the shop's ids; `advance_campaign` moves the
  cursor only from where the caller read it, so two processes never skip a chunk and a restart
  goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from server.store.audience import Selection, where
from server.store.db import Database, Tx, records
from server.store.mail_queue import NewMail, add

_SEEN = "('delivered', 'opened', 'clicked', 'dismissed')"
_LIMIT = 200


class UnseenNotification(msgspec.Struct):
    """A transactional notification nobody saw, with the customer it is for."""

    customer_id: str
    seq: int
    kind: str
    title: str
    body: str
    url: str | None
    created_at: int
    email: str
    name: str | None


class CampaignCopy(msgspec.Struct):
    """A campaign's notification a customer holds but did not see, as the mail repeats it."""

    customer_id: str
    seq: int
    title: str
    body: str
    url: str | None
    voucher_code: str | None
    expires_at: int | None
    email: str
    name: str | None


class CampaignDue(msgspec.Struct):
    id: str
    email_cursor: str | None


NotificationPlan = Callable[[UnseenNotification], NewMail | None]
CampaignPlan = Callable[[CampaignCopy], NewMail | None]

_UNSEEN = f"""
SELECT n.customer_id, n.seq, n.kind, n.title, n.body, n.url, n.created_at, c.email, c.name
FROM notifications n JOIN customers c ON c.id = n.customer_id
WHERE n.marketing = 0 AND n.kind = ? AND n.created_at <= ? AND n.created_at > ? AND c.email IS NOT NULL
  AND (n.expires_at IS NULL OR n.expires_at > ?)
  AND NOT EXISTS (SELECT 1 FROM notification_actions a
                  WHERE a.customer_id = n.customer_id AND a.seq = n.seq AND a.action IN {_SEEN})
  AND NOT EXISTS (SELECT 1 FROM mail_queue q WHERE q.dedupe_key = 'notification:' || n.customer_id || ':' || n.seq)
"""
# A reminder is mailed only to a customer who was not on the site since it fired.
_ABSENT = " AND NOT EXISTS (SELECT 1 FROM customer_seen s WHERE s.customer_id = n.customer_id AND s.at >= n.created_at)"


class MailFallbackStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -------------------------------------------------------------- order updates and reminders

    async def any_unseen(self, kind: str, *, before: int, after: int, now: int, absent: bool) -> bool:
        sql = _UNSEEN + (_ABSENT if absent else "")
        return await self.db.fetchone(f"{sql} LIMIT 1", (kind, before, after, now)) is not None

    async def mail_unseen(
        self, kind: str, *, before: int, after: int, now: int, absent: bool, plan: NotificationPlan
    ) -> int:
        """Queue a mail for each transactional notification of `kind` stored between `after`
        and `before` and still unseen (`absent`: and its customer not on the site since)."""
        sql = _UNSEEN + (_ABSENT if absent else "")

        def work(tx: Tx) -> int:
            rows = tx.execute(f"{sql} LIMIT ?", (kind, before, after, now, _LIMIT)).fetchall()
            planned = [plan(n) for n in records(rows, UnseenNotification)]
            return add(tx, [m for m in planned if m is not None])

        return await self.db.write(work)

    # -------------------------------------------------------------- campaigns

    async def due_campaigns(self, now: int) -> list[CampaignDue]:
        """Active campaigns whose e-mail deadline has passed and whose audience is not done."""
        rows = await self.db.fetchall(
            "SELECT id, email_cursor FROM campaigns WHERE email_after IS NOT NULL AND email_done_at IS NULL"
            " AND email_after <= ? AND status = 'active' AND (expires_at IS NULL OR expires_at > ?)",
            (now, now),
        )
        return records(rows, CampaignDue)

    async def next_audience(self, selection: Selection, after: str | None, limit: int) -> list[tuple[str, str]]:
        """The next `limit` (customer id, shop id) of a campaign's audience who could get mail:
        identified, consenting, with an address; in the order of the shop's ids, after `after`."""
        sql, params = where(selection)
        rows = await self.db.fetchall(
            f"SELECT id, external_id FROM customers WHERE external_id IS NOT NULL AND external_id > ?"
            f" AND marketing_consent = 1 AND email IS NOT NULL AND ({sql}) ORDER BY external_id LIMIT ?",
            [after or "", *params, limit],
        )
        return [(r["id"], r["external_id"]) for r in rows]

    async def mail_campaign(
        self,
        campaign_id: str,
        customer_ids: Sequence[str],
        *,
        cursor: tuple[str | None, str | None],
        done: bool,
        now: int,
        plan: CampaignPlan,
    ) -> int:
        """Queue the campaign's mail for those of these customers who hold its notification
        unseen and consent now, and move the campaign's cursor from `cursor[0]` to `cursor[1]`
        (`done`: the audience is through). How many mails were queued."""
        key = f"campaign:{campaign_id}"

        def work(tx: Tx) -> int:
            queued = 0
            if customer_ids:
                marks = ",".join("?" * len(customer_ids))
                rows = tx.execute(
                    f"""
                    SELECT n.customer_id, n.seq, n.title, n.body, n.url, n.voucher_code, n.expires_at, c.email, c.name
                    FROM notifications n JOIN customers c ON c.id = n.customer_id
                    WHERE n.customer_id IN ({marks}) AND n.dedupe_key = ? AND c.marketing_consent = 1
                      AND c.email IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM notification_actions a
                                      WHERE a.customer_id = n.customer_id AND a.seq = n.seq AND a.action IN {_SEEN})
                    """,
                    (*customer_ids, key),
                ).fetchall()
                planned = [plan(copy) for copy in records(rows, CampaignCopy)]
                queued = add(tx, [m for m in planned if m is not None])
            before, after = cursor
            params: list[Any] = [after, now if done else None, campaign_id, before]
            tx.execute(
                "UPDATE campaigns SET email_cursor = ?, email_done_at = ?"
                " WHERE id = ? AND email_done_at IS NULL AND email_cursor IS ?",
                params,
            )
            return queued

        return await self.db.write(work)
