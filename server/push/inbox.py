"""Customers' inboxes: store notifications with their seq, then publish; replay them to the hub."""

from __future__ import annotations

from collections.abc import Sequence

from server import metrics, streams
from server.broker import Broker
from server.errors import Problem
from server.hub import Item, LocalDelivery, StreamSource
from server.ids import now_ms
from server.protocol import ErrorCode, InboxReset, InboxResumed, TrackAction, encode, encode_text
from server.settings import Settings
from server.store.inbox import DailyCap, Delivery, Draft, InboxStore
from server.store.vouchers import VoucherBatch


class InboxService:
    """The one way anything reaches a customer's inbox: order updates, campaigns, reminders."""

    def __init__(self, inbox: InboxStore, broker: Broker, local: LocalDelivery) -> None:
        self._inbox = inbox
        self._broker = broker
        self._local = local

    async def deliver(
        self,
        drafts: Sequence[tuple[str, Draft]],
        *,
        daily_cap: DailyCap | None = None,
        vouchers: VoucherBatch | None = None,
        caps: Sequence[DailyCap] = (),
    ) -> int:
        """Store, then publish. Returns how many notifications were new (duplicates by key, and
        marketing past `daily_cap`, are not stored). `vouchers`: the codes the drafts carry,
        stored with them, only for the customers whose notification was stored.
        """
        stored, deliveries = await self._inbox.append(drafts, daily_cap=daily_cap, vouchers=vouchers, caps=caps)
        await self.publish(deliveries)
        return stored

    async def deliver_here(
        self,
        customer_ids: Sequence[str],
        drafts: Sequence[tuple[str, Draft]],
        dedupe_key: str,
        *,
        daily_cap: DailyCap | None = None,
        vouchers: VoucherBatch | None = None,
        caps: Sequence[DailyCap] = (),
    ) -> int:
        """A broadcast's share for the customers connected to this process: store, then hand
        this process's sockets what the broadcast holds for each of them (stored now, or a
        moment ago by another process serving another tab of theirs). Nothing is published per
        customer: every process does the same for its own sockets, so Redis carries one hint
        per broadcast, not one message per recipient. Returns how many were new.
        """
        stored, deliveries = await self._inbox.append_for_connected(
            customer_ids, drafts, dedupe_key, daily_cap=daily_cap, vouchers=vouchers, caps=caps
        )
        self._local.deliver(self._envelopes(deliveries))
        metrics.BROADCAST_DELIVERIES.inc(len(deliveries))
        return stored

    async def publish(self, deliveries: Sequence[Delivery]) -> None:
        """Stored notifications to every process's sockets (through the broker)."""
        await self._broker.publish_many(self._envelopes(deliveries))

    @staticmethod
    def _envelopes(deliveries: Sequence[Delivery]) -> list[tuple[str, bytes]]:
        return [
            (streams.inbox(d.customer_id), streams.event_envelope(d.notification.seq, False, encode(d.notification)))
            for d in deliveries
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
            Item(n.seq, False, "" if n.expires_at is not None and n.expires_at <= now else encode_text(n))
            for n in await self._inbox.after(stream_id, after, limit)
        ]

    async def last_seqs(self, stream_ids: list[str]) -> dict[str, int]:
        return await self._inbox.last_seqs(stream_ids)

    async def reset(self, stream_id: str, sees_private: bool) -> tuple[str, int] | None:
        last = (await self._inbox.last_seqs([stream_id])).get(stream_id)
        if last is None:
            return None
        notifications = await self._inbox.latest_unexpired(stream_id, self._settings.snapshot_events)
        frame = InboxReset(seq=last, notifications=notifications)
        return encode_text(frame), last

    def resumed(self, stream_id: str, seq: int) -> str:
        return encode_text(InboxResumed(seq=seq))
