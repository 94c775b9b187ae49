"""A campaign's results as stored: its audience now, who was held back and why, what happened over time.

Guarantees:
- Every read is one statement over committed data (the reader connection); counts of one call
  may come from a moment apart, never from a half-written transaction.
- The audience is compiled by store/audience.py (`where`), the one compiler: a result counts the
  same customers a delivery selects.
- Exports are bounded (`limit` rows) and ordered, so a download is repeatable.
"""

from __future__ import annotations

import msgspec

from server.store.audience import Selection, where
from server.store.db import Database, record, records

ACTIONS = ("delivered", "opened", "clicked", "dismissed", "redeemed")


class AudienceCounts(msgspec.Struct):
    """The customers the audience selects now, and of them those without marketing consent who
    never got the campaign (a transactional campaign holds nobody back for consent)."""

    audience: int
    no_consent: int


class Reached(msgspec.Struct):
    """Notifications stored for the campaign; customers held back by a cap who still have none;
    and how many notifications saw each tracked action."""

    recipients: int
    capped: int
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    dismissed: int = 0
    redeemed: int = 0


class Bucket(msgspec.Struct):
    """What happened in one time bucket (its start, ms): notifications stored, actions seen."""

    at: int
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    dismissed: int = 0
    redeemed: int = 0


class RecipientRow(msgspec.Struct):
    """One customer of the campaign: sent (with what they did) or held back."""

    customer_id: str | None  # the shop's id
    name: str | None
    email: str | None
    status: str  # sent, or held back: frequency_cap
    sent_at: int | None
    voucher_code: str | None
    delivered: bool
    opened: bool
    clicked: bool
    dismissed: bool
    redeemed: bool


# Numbered parameters (?1 the campaign, ?2 the bucket or the limit): each is used several times.
_ACTION_COUNTS = ", ".join(
    f"(SELECT COUNT(*) FROM notification_actions WHERE campaign_id = ?1 AND action = '{a}') AS {a}" for a in ACTIONS
)
_REACHED = f"""
SELECT (SELECT COUNT(*) FROM notifications WHERE campaign_id = ?1) AS recipients,
       (SELECT COUNT(*) FROM campaign_holds h WHERE h.campaign_id = ?1 AND NOT EXISTS
          (SELECT 1 FROM notifications n WHERE n.customer_id = h.customer_id AND n.campaign_id = ?1)) AS capped,
       {_ACTION_COUNTS}
"""
_SENT_BUCKETS = """
SELECT (created_at / ?2) * ?2 AS at, COUNT(*) AS n FROM notifications
WHERE campaign_id = ?1 GROUP BY 1 ORDER BY 1
"""
_ACTION_BUCKETS = """
SELECT (at / ?2) * ?2 AS at, action, COUNT(*) AS n FROM notification_actions
WHERE campaign_id = ?1 GROUP BY 1, 2 ORDER BY 1
"""

_FLAGS = ", ".join(f"COALESCE(MAX(a.action = '{a}'), 0) AS {a}" for a in ACTIONS)
_RECIPIENTS = f"""
SELECT c.external_id AS customer_id, c.name, c.email, 'sent' AS status, n.created_at AS sent_at,
       n.voucher_code, {_FLAGS}
FROM notifications n JOIN customers c ON c.id = n.customer_id
LEFT JOIN notification_actions a ON a.customer_id = n.customer_id AND a.seq = n.seq
WHERE n.campaign_id = ?1
GROUP BY n.customer_id, n.seq
UNION ALL
SELECT c.external_id, c.name, c.email, 'held back: ' || h.reason, NULL, NULL, 0, 0, 0, 0, 0
FROM campaign_holds h JOIN customers c ON c.id = h.customer_id
WHERE h.campaign_id = ?1
  AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.customer_id = h.customer_id AND n.campaign_id = ?1)
ORDER BY 4 DESC, 1
LIMIT ?2
"""


class CampaignResultsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def audience(self, campaign_id: str, selection: Selection, *, consent_required: bool) -> AudienceCounts:
        sql, params = where(selection)
        no_consent = (
            "COUNT(*) FILTER (WHERE marketing_consent = 0 AND NOT EXISTS (SELECT 1 FROM notifications n"
            " WHERE n.customer_id = customers.id AND n.campaign_id = ?))"
            if consent_required
            else "0"
        )
        row = await self.db.fetchone(
            f"SELECT COUNT(*) AS audience, {no_consent} AS no_consent FROM customers"
            f" WHERE external_id IS NOT NULL AND ({sql})",
            [*([campaign_id] if consent_required else []), *params],
        )
        assert row is not None  # noqa: S101 - an aggregate always has its one row
        return record(row, AudienceCounts)

    async def reached(self, campaign_id: str) -> Reached:
        row = await self.db.fetchone(_REACHED, (campaign_id,))
        assert row is not None  # noqa: S101
        return record(row, Reached)

    async def timeline(self, campaign_id: str, bucket_ms: int) -> list[Bucket]:
        """Per bucket of `bucket_ms`, oldest first; buckets where nothing happened are left out."""
        found: dict[int, Bucket] = {}
        for row in await self.db.fetchall(_SENT_BUCKETS, (campaign_id, bucket_ms)):
            found.setdefault(int(row["at"]), Bucket(at=int(row["at"]))).sent = int(row["n"])
        for row in await self.db.fetchall(_ACTION_BUCKETS, (campaign_id, bucket_ms)):
            bucket = found.setdefault(int(row["at"]), Bucket(at=int(row["at"])))
            if row["action"] in ACTIONS:
                setattr(bucket, row["action"], int(row["n"]))
        return [found[at] for at in sorted(found)]

    async def many(self, campaign_ids: list[str]) -> dict[str, Reached]:
        """Recipients and actions of several campaigns (a list's counts), two queries in all;
        `capped` is left at 0."""
        if not campaign_ids:
            return {}
        marks = ",".join("?" * len(campaign_ids))
        found = {cid: Reached(recipients=0, capped=0) for cid in campaign_ids}
        rows = await self.db.fetchall(
            f"SELECT campaign_id, COUNT(*) AS n FROM notifications WHERE campaign_id IN ({marks}) GROUP BY 1",
            campaign_ids,
        )
        for row in rows:
            found[row["campaign_id"]].recipients = int(row["n"])
        rows = await self.db.fetchall(
            f"SELECT campaign_id, action, COUNT(*) AS n FROM notification_actions WHERE campaign_id IN ({marks})"
            " GROUP BY 1, 2",
            campaign_ids,
        )
        for row in rows:
            if row["action"] in ACTIONS:
                setattr(found[row["campaign_id"]], row["action"], int(row["n"]))
        return found

    async def recipients(self, campaign_id: str, limit: int) -> list[RecipientRow]:
        """Who got it (with what they did), then who was held back, by the shop's id."""
        return records(await self.db.fetchall(_RECIPIENTS, (campaign_id, limit)), RecipientRow)
