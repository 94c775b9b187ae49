"""Conversations as streams the hub can replay: stored events turned into frames."""

from __future__ import annotations

from server.hub import Item, StreamSource
from server.protocol import Reset, Resumed, encode_text
from server.settings import Settings
from server.store.conversations import ConversationStore, StoredEvent


def _item(stored: StoredEvent) -> Item:
    return Item(stored.event.seq, stored.private, encode_text(stored.event))


class ConversationStream(StreamSource):
    def __init__(self, conversations: ConversationStore, settings: Settings, epoch: str) -> None:
        self._conversations = conversations
        self._settings = settings
        self._epoch = epoch

    async def after(self, stream_id: str, after: int, limit: int) -> list[Item]:
        return [_item(s) for s in await self._conversations.events_after(stream_id, after, limit)]

    async def last_seqs(self, stream_ids: list[str]) -> dict[str, int]:
        return await self._conversations.last_seqs(stream_ids)

    async def reset(self, stream_id: str, sees_private: bool) -> tuple[str, int] | None:
        summary = await self._conversations.get(stream_id)
        if summary is None:
            return None
        stored = await self._conversations.latest_events(stream_id, self._settings.snapshot_events)
        events = [s.event for s in stored if sees_private or not s.private]
        covered = stored[-1].event.seq if stored else 0
        return encode_text(Reset(conversation=summary, epoch=self._epoch, events=events)), covered

    def resumed(self, stream_id: str, seq: int) -> str:
        return encode_text(Resumed(conversation_id=stream_id, seq=seq))
