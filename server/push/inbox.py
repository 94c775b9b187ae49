"""Customers' inboxes: store notifications with their seq, then publish; replay them to the hub."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from server import streams
from server.broker import Broker
from server.errors import Problem
from server.hub import Item, StreamSource
from server.ids import now_ms
from server.protocol import ErrorCode, InboxReset, InboxResumed, TrackAction, encode, encode_text
from server.settings import Settings
from server.store import Database
from server.store.db import Row, Tx
from server.store.inbox import Appended, DailyCap, Draft, InboxStore, notification_from, notification_of

# Writes what stored notifications refer to, given the customers whose notification was stored.
Then = Callable[[Tx, list[str]], None]


class InboxService:
    """The one way anything reaches a customer's inbox: order updates, campaigns, reminders."""

    def __init__(self, db: Database, inbox: InboxStore, broker: Broker) -> None:
        self._db = db
        self._inbox = inbox
        self._broker = broker

    async def deliver(
        self,
        drafts: Sequence[tuple[str, Draft]],
        *,
        daily_cap: DailyCap | None = None,
        then: Then | None = None,
    ) -> int:
        """Store, then publish. Returns how many notifications were new (duplicates by key, and
        marketing past `daily_cap`, are not stored).

        `then(tx, customer_ids)` writes, in the same transaction, what the stored notifications
        refer to (their vouchers): only for the customers whose notification was stored.
        """
        if not drafts:
            return 0

        def work(tx: Tx) -> tuple[int, list[Row]]:
            appended = InboxStore.append_many(tx, drafts, daily_cap=daily_cap)
            if not appended.customer_ids:
                return 0, []
            if then is not None:
                then(tx, appended.customer_ids)
            customers = sorted(set(appended.customer_ids))
            return len(appended.customer_ids), InboxStore.rows_since(tx, customers, appended.at)

        stored, rows = await self._db.write(work)
        await self.publish(rows)
        return stored

    async def deliver_here(
        self,
        customer_ids: Sequence[str],
        drafts: Sequence[tuple[str, Draft]],
        dedupe_key: str,
        *,
        daily_cap: DailyCap | None = None,
        then: Then | None = None,
    ) -> int:
        """A broadcast's share for the customers connected to this process: store, then hand
        this process's sockets what the broadcast holds for each of them (stored now, or a
        moment ago by another process serving another tab of theirs). Nothing is published per
        customer: every process does the same for its own sockets, so Redis carries one hint
        per broadcast, not one message per recipient. Returns how many were new.
        """
        if not drafts:
            self._broker.publish_local(self._envelopes(await self._inbox.with_key(customer_ids, dedupe_key)))
            return 0

        def work(tx: Tx) -> tuple[Appended, list[Row]]:
            appended = InboxStore.append_many(tx, drafts, daily_cap=daily_cap)
            if then is not None and appended.customer_ids:
                then(tx, appended.customer_ids)
            # What was stored now is sent as drafted, not read back. The others may hold it from
            # before (another tab's process stored it): read in the write transaction, so what
            # another process committed for the same key is seen.
            fresh = set(appended.customer_ids)
            others = [cid for cid in customer_ids if cid not in fresh]
            return appended, InboxStore.rows_with_key(tx, others, dedupe_key) if others else []

        appended, rows = await self._db.write(work)
        envelopes = [
            (streams.inbox(cid), streams.event_envelope(seq, False, encode(notification_from(draft, seq, appended.at))))
            for cid, seq, draft in zip(appended.customer_ids, appended.seqs, appended.drafts, strict=True)
        ]
        self._broker.publish_local(envelopes + self._envelopes(rows))
        return len(appended.customer_ids)

    async def publish(self, rows: Sequence[Row]) -> None:
        await self._broker.publish_many(self._envelopes(rows))

    @staticmethod
    def _envelopes(rows: Sequence[Row]) -> list[tuple[str, bytes]]:
        return [
            (streams.inbox(row["customer_id"]), streams.event_envelope(row["seq"], False, encode(notification_of(row))))
            for row in rows
        ]

    async def track(self, customer_id: str, seq: int, action: TrackAction | str) -> bool:
        exists, campaign_id = await self._inbox.campaign_of(customer_id, seq)
        if not exists:
            raise Problem(ErrorCode.NOT_FOUND, f"no notification {seq} in your inbox")
        return await self._inbox.record_action(customer_id, seq, action, campaign_id)


class InboxStream(StreamSource):
    """The hub's view of inboxes. Expired offers are passed over (an empty frame), not replayed."""

    def __init__(self, inbox: InboxStore, settings: Settings) -> None:
        self._inbox = inbox
        self._settings = settings

    async def after(self, stream_id: str, after: int, limit: int) -> list[Item]:
        now = now_ms()
        return [
            Item(
                r["seq"],
                False,
                "" if r["expires_at"] is not None and r["expires_at"] <= now else encode_text(notification_of(r)),
            )
            for r in await self._inbox.after(stream_id, after, limit)
        ]

    async def last_seqs(self, stream_ids: list[str]) -> dict[str, int]:
        return await self._inbox.last_seqs(stream_ids)

    async def reset(self, stream_id: str, sees_private: bool) -> tuple[str, int] | None:
        last = (await self._inbox.last_seqs([stream_id])).get(stream_id)
        if last is None:
            return None
        rows = await self._inbox.latest_unexpired(stream_id, self._settings.snapshot_events)
        frame = InboxReset(seq=last, notifications=[notification_of(r) for r in rows])
        return encode_text(frame), last

    def resumed(self, stream_id: str, seq: int) -> str:
        return encode_text(InboxResumed(seq=seq))
