"""A small shop for the push engine's unit tests: a real SQLite file, its stores, and the services.

No store is mocked. What stands in is what lies outside the push engine: the sockets (`Sockets`,
the hub's LocalDelivery) and the other processes (an in-process MemoryBroker).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec

from server.broker.memory import MemoryBroker
from server.protocol import VoucherInfo
from server.push.broadcast import Broadcaster
from server.push.campaigns import CampaignIn, CampaignOut, CampaignService
from server.push.customers import CustomerIn, CustomerService, columns_of
from server.push.greetings import Greetings
from server.push.inbox import InboxService
from server.push.segments import SegmentService
from server.push.vouchers import VoucherService
from server.settings import Settings
from server.store.audience import AudienceStore
from server.store.campaign_results import CampaignResultsStore
from server.store.campaigns import CampaignStore, SegmentStore
from server.store.customers import CustomerAttributesStore
from server.store.db import Database
from server.store.inbox import Draft, InboxStore
from server.store.vouchers import VoucherBatch, VoucherStore
from tests.support.live import test_settings


async def open_database(tmp_path: Path, name: str = "shop.db") -> Database:
    db = Database(str(tmp_path / name))
    await db.open()
    return db


async def add_customer(db: Database, external_id: str, **fields: Any) -> str:
    """Upsert a customer as the shop's back end would; their internal id."""
    store = CustomerAttributesStore(db)
    body = msgspec.convert(fields, CustomerIn)
    await store.upsert_many([(external_id, columns_of(body, "test"))])
    found = await store.get(external_id)
    assert found is not None
    return found.id


def days_ago(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


async def give(db: Database, customer_id: str, code: str, *, campaign: str = "cp_1",
               expires_at: int | None = None) -> int:
    """A campaign's notification carrying `code`, stored as a broadcast stores it; how many stored."""
    batch = VoucherBatch(campaign_id=campaign, codes={customer_id: code}, kind="amount", amount=5.0, currency="EUR",
                         expires_at=expires_at)
    info = VoucherInfo(code=code, kind="amount", amount=5.0, currency="EUR", expires_at=expires_at)
    draft = Draft(kind="offer", marketing=True, title="5 off", body=code, voucher=info, campaign_id=campaign,
                  dedupe_key=f"campaign:{campaign}:{code}")
    stored, _ = await InboxStore(db).append([(customer_id, draft)], vouchers=batch)
    return stored


class Sockets:
    """The hub as the push engine sees it (LocalDelivery): who is connected, what was handed over."""

    def __init__(self, connected: list[str] | None = None) -> None:
        self.customers = list(connected or [])
        self.delivered: list[tuple[str, bytes]] = []

    def connected(self, kind: str) -> list[str]:
        return list(self.customers) if kind == "inbox" else []

    def deliver(self, messages: list[tuple[str, bytes]]) -> None:
        self.delivered += messages


class Shop:
    """Every push service on one database, wired as server/node.py wires them."""

    def __init__(self, db: Database, settings: Settings, sockets: Sockets | None = None) -> None:
        self.db = db
        self.settings = settings
        self.broker = MemoryBroker()
        self.sockets = sockets or Sockets()
        self.inbox_store = InboxStore(db)
        self.campaign_store = CampaignStore(db)
        self.segment_store = SegmentStore(db)
        self.audience = AudienceStore(db)
        self.customer_store = CustomerAttributesStore(db)
        self.customers = CustomerService(self.customer_store, self.inbox_store)
        self.segments = SegmentService(self.segment_store, self.audience)
        self.vouchers = VoucherService(VoucherStore(db))
        self.inbox = InboxService(self.inbox_store, self.broker, self.sockets)
        self.campaigns = CampaignService(
            self.campaign_store, self.segments, self.audience, self.customer_store, self.broker,
            CampaignResultsStore(db),
        )
        self.broadcast = Broadcaster(
            self.campaign_store, self.segments, self.audience, self.inbox, self.sockets, settings
        )
        self.greetings = Greetings(self.broadcast, self.segments, self.audience)

    @classmethod
    async def open(cls, tmp_path: Path, sockets: Sockets | None = None, **settings: Any) -> Shop:
        db = await open_database(tmp_path)
        return cls(db, test_settings(tmp_path, **settings), sockets)

    async def campaign(self, *, send: bool = True, **fields: Any) -> CampaignOut:
        """A campaign (sent, unless `send=False`), with defaults for what a test leaves out."""
        values: dict[str, Any] = {"name": "c", "kind": "offer", "audience": {"type": "all"}, "title": "t", "body": "b"}
        values.update(fields)
        created = await self.campaigns.create(msgspec.convert(values, CampaignIn), created_by="test")
        if send:
            created = await self.campaigns.send(created.id, None)
        return created

    async def titles(self, external_id: str) -> list[str]:
        """Titles of what the customer's inbox holds, in seq order."""
        found = await self.customer_store.get(external_id)
        assert found is not None
        return [n.title for n in await self.inbox_store.after(found.id, 0, 1000)]

    async def close(self) -> None:
        await self.db.close()
