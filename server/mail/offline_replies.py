"""Agents' replies to a customer who left: e-mailed, several in one mail, threaded, with a way back.

A scheduler job on every process. A conversation qualifies when its customer has an address
(the conversation's own, else the one the shop gave), has not been on the site (no socket, no
message) for `RAPPORT_MAIL_OFFLINE_REPLY_DELAY`, and agents' replies they have not read were
written, the newest at least `RAPPORT_MAIL_REPLY_BATCH_WINDOW` ago (so a burst of replies goes in
one mail). The store decides and queues in one write transaction, so a batch is mailed once
however many processes look.
"""

from __future__ import annotations

from collections.abc import Callable

from server.ids import now_ms
from server.mail.drafts import Drafts
from server.settings import Settings
from server.store.conversation_mail import ConversationMailStore


class OfflineReplies:
    def __init__(
        self, store: ConversationMailStore, drafts: Drafts, settings: Settings, queued: Callable[[], None]
    ) -> None:
        self._store = store
        self._drafts = drafts
        self._settings = settings
        self._queued = queued

    async def run(self) -> int:
        now = now_ms()
        gone_before = now - int(self._settings.mail_offline_reply_delay * 1000)
        quiet_before = now - int(self._settings.mail_reply_batch_window * 1000)
        if not await self._store.reply_candidates(now, gone_before=gone_before, quiet_before=quiet_before):
            return 0
        count = await self._store.mail_offline_replies(
            now, gone_before=gone_before, quiet_before=quiet_before, plan=self._drafts.offline_reply
        )
        if count:
            self._queued()
        return count
