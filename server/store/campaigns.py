"""Segments and campaigns as stored: a segment's rules, a campaign's templates, audience and state.

Guarantees:
- Every method is one statement or one write transaction: a caller never sees half of a write.
- A campaign's status moves only draft -> scheduled -> active -> stopped (draft may start at
  once, scheduled may go back to being changed; active and paused go back and forth, and a
  paused one may be stopped), each move a conditional UPDATE: of callers racing to move one
  campaign, on any number of processes, exactly one gets True.
  `start_due` activates each scheduled campaign once, for whichever process claims it first.
- `active()` is what is active and unexpired at the time of the read; a caller that caches it
  must re-read a campaign when told it changed (push/broadcast.py does, on each hint).
- A segment name is unique: creating or renaming onto a taken name raises `NameTaken` and
  changes nothing.
- The campaign's `audience`, `voucher`, `trigger`, `frequency_cap` and `recurring` are kept as
  the JSON the push engine wrote (its models); this module never reads inside them.
- `hold` remembers a customer a campaign could not reach, once per campaign and customer.
"""

from __future__ import annotations

import sqlite3

import msgspec

from server.ids import new_id, now_ms
from server.store.audience import Condition
from server.store.db import Database, Tx, record, records


class NameTaken(Exception):
    """Another segment has this name."""


class SegmentRecord(msgspec.Struct):
    id: str
    name: str
    rules: Condition
    created_at: int
    updated_at: int


class CampaignFields(msgspec.Struct, kw_only=True):
    """What a marketer writes of a campaign; the JSON columns hold the push engine's models."""

    name: str
    kind: str
    audience: str  # JSON
    title_template: str
    body_template: str
    url: str | None
    voucher: str | None  # JSON, or None: no voucher
    trigger: str | None  # JSON, or None: a broadcast
    expires_at: int | None
    survey: str | None = None  # JSON: a survey campaign's questions
    # E-mail to whoever did not see it live by then (mail/fallback.py); None: no e-mail.
    email_after: int | None = None
    consent: str = "marketing"  # or "transactional": sent without marketing consent, outside caps
    frequency_cap: str | None = None  # JSON: the campaign's own cap, besides the shop's daily one
    recurring: str | None = None  # JSON: a yearly date of each customer's (a birthday greeting)


class CampaignRecord(msgspec.Struct):
    id: str
    name: str
    kind: str
    status: str
    audience: str  # JSON
    title_template: str
    body_template: str
    url: str | None
    voucher: str | None  # JSON
    trigger: str | None  # JSON
    send_at: int | None
    started_at: int | None
    expires_at: int | None
    created_by: str | None
    created_at: int
    updated_at: int
    survey: str | None  # JSON
    email_after: int | None
    consent: str
    frequency_cap: str | None  # JSON
    recurring: str | None  # JSON
    paused_at: int | None
    copied_from: str | None


class CampaignCounts(msgspec.Struct):
    """Notifications stored for a campaign, and how many of them saw each tracked action."""

    recipients: int
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    dismissed: int = 0
    redeemed: int = 0


_COUNTS = f"""
SELECT (SELECT COUNT(*) FROM notifications WHERE campaign_id = ?) AS recipients,
       {", ".join(f"COUNT(*) FILTER (WHERE action = '{a}') AS {a}" for a in CampaignCounts.__struct_fields__[1:])}
FROM notification_actions WHERE campaign_id = ?
"""
_SEGMENT = "SELECT id, name, rules, created_at, updated_at FROM segments"
_CAMPAIGN = f"SELECT {', '.join(CampaignRecord.__struct_fields__)} FROM campaigns"


class SegmentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, name: str, rules: Condition) -> str:
        segment_id = new_id("sg")
        now = now_ms()
        try:
            await self.db.run(
                "INSERT INTO segments (id, name, rules, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (segment_id, name, msgspec.json.encode(rules).decode(), now, now),
            )
        except sqlite3.IntegrityError:
            raise NameTaken(name) from None
        return segment_id

    async def update(self, segment_id: str, name: str, rules: Condition) -> bool:
        """False when there is no such segment."""
        try:
            changed = await self.db.run(
                "UPDATE segments SET name = ?, rules = ?, updated_at = ? WHERE id = ?",
                (name, msgspec.json.encode(rules).decode(), now_ms(), segment_id),
            )
        except sqlite3.IntegrityError:
            raise NameTaken(name) from None
        return changed > 0

    async def get(self, segment_id: str) -> SegmentRecord | None:
        row = await self.db.fetchone(f"{_SEGMENT} WHERE id = ?", (segment_id,))
        return record(row, SegmentRecord) if row else None

    async def all(self) -> list[SegmentRecord]:
        return records(await self.db.fetchall(f"{_SEGMENT} ORDER BY name"), SegmentRecord)

    async def delete(self, segment_id: str) -> bool:
        return await self.db.run("DELETE FROM segments WHERE id = ?", (segment_id,)) > 0


class CampaignStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, fields: CampaignFields, *, created_by: str, copied_from: str | None = None) -> str:
        """A new draft (a copy of `copied_from`, if given)."""
        campaign_id = new_id("cp")
        now = now_ms()
        columns = {
            **msgspec.structs.asdict(fields),
            "id": campaign_id,
            "status": "draft",
            "copied_from": copied_from,
            "created_by": created_by,
            "created_at": now,
            "updated_at": now,
        }
        # Column names come from CampaignFields, never from input.
        await self.db.run(
            f"INSERT INTO campaigns ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            list(columns.values()),
        )
        return campaign_id

    async def update(self, campaign_id: str, fields: CampaignFields) -> bool:
        """Change a draft or scheduled campaign; False for any other (or none)."""
        columns = msgspec.structs.asdict(fields)
        return await self._move(campaign_id, columns, ("draft", "scheduled"))

    async def schedule(self, campaign_id: str, send_at: int) -> bool:
        """A draft or scheduled campaign starts at `send_at` (the scheduler's `start_due`)."""
        return await self._move(campaign_id, {"status": "scheduled", "send_at": send_at}, ("draft", "scheduled"))

    async def start(self, campaign_id: str, at: int) -> bool:
        """A draft or scheduled campaign is active from `at`."""
        fields = {"status": "active", "send_at": at, "started_at": at}
        return await self._move(campaign_id, fields, ("draft", "scheduled"))

    async def stop(self, campaign_id: str) -> bool:
        """A scheduled, active or paused campaign reaches nobody else."""
        return await self._move(
            campaign_id, {"status": "stopped", "paused_at": None}, ("scheduled", "active", "paused")
        )

    async def pause(self, campaign_id: str) -> bool:
        """An active campaign reaches nobody until it is resumed."""
        return await self._move(campaign_id, {"status": "paused", "paused_at": now_ms()}, ("active",))

    async def resume(self, campaign_id: str) -> bool:
        """A paused campaign is active again."""
        return await self._move(campaign_id, {"status": "active", "paused_at": None}, ("paused",))

    async def hold(self, campaign_id: str, customer_ids: list[str], reason: str) -> None:
        """These customers (internal ids) were held back by the campaign for `reason`."""
        if not customer_ids:
            return
        now = now_ms()
        rows = [(campaign_id, cid, reason, now) for cid in customer_ids]

        def work(tx: Tx) -> None:
            tx.executemany(
                "INSERT OR IGNORE INTO campaign_holds (campaign_id, customer_id, reason, at) VALUES (?, ?, ?, ?)", rows
            )

        await self.db.write(work)

    async def _move(self, campaign_id: str, fields: dict[str, object], only_status: tuple[str, ...]) -> bool:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        marks = ",".join("?" * len(only_status))
        changed = await self.db.run(
            f"UPDATE campaigns SET {assignments}, updated_at = ? WHERE id = ? AND status IN ({marks})",
            (*fields.values(), now_ms(), campaign_id, *only_status),
        )
        return changed > 0

    async def get(self, campaign_id: str) -> CampaignRecord | None:
        row = await self.db.fetchone(f"{_CAMPAIGN} WHERE id = ?", (campaign_id,))
        return record(row, CampaignRecord) if row else None

    async def recent(self, limit: int, offset: int) -> list[CampaignRecord]:
        rows = await self.db.fetchall(f"{_CAMPAIGN} ORDER BY created_at DESC LIMIT ? OFFSET ?", (limit, offset))
        return records(rows, CampaignRecord)

    async def active(self) -> list[CampaignRecord]:
        rows = await self.db.fetchall(
            f"{_CAMPAIGN} WHERE status = 'active' AND (expires_at IS NULL OR expires_at > ?)", (now_ms(),)
        )
        return records(rows, CampaignRecord)

    async def start_due(self) -> list[str]:
        """Scheduled campaigns whose time has come become active, each exactly once: the ids of
        those this call started."""
        now = now_ms()
        rows = await self.db.run_returning(
            "UPDATE campaigns SET status = 'active', started_at = ?, updated_at = ?"
            " WHERE status = 'scheduled' AND send_at <= ? RETURNING id",
            (now, now, now),
        )
        return [str(r[0]) for r in rows]

    async def counts(self, campaign_id: str) -> CampaignCounts:
        row = await self.db.fetchone(_COUNTS, (campaign_id, campaign_id))
        assert row is not None  # noqa: S101 - an aggregate always has its one row
        return record(row, CampaignCounts)
