"""A conversation's transcript by e-mail, when the customer asks for it (the widget offers it on
close): sent when the conversation is closed, at once if it already is."""

from __future__ import annotations

from collections.abc import Callable

from server.chat.access import Actor
from server.chat.service import ChatService
from server.errors import Problem
from server.mail.addresses import BadAddress, checked_address
from server.mail.drafts import Drafts
from server.protocol import ErrorCode
from server.store.conversation_mail import ConversationMailStore


class Transcripts:
    def __init__(
        self, store: ConversationMailStore, chat: ChatService, drafts: Drafts, queued: Callable[[], None]
    ) -> None:
        self._store = store
        self._chat = chat
        self._drafts = drafts
        self._queued = queued

    async def request(self, actor: Actor, conversation_id: str, email: str | None) -> str:
        """The customer (or an agent for them) asks for the transcript; `email` becomes the
        conversation's address. The address it will go to."""
        await self._chat.readable(actor, conversation_id)
        address = None
        if email is not None:
            try:
                address = checked_address(email)
            except BadAddress as exc:
                raise Problem(ErrorCode.INVALID_REQUEST, str(exc)) from None
        found = await self._store.want_transcript(conversation_id, address)
        if found is None:
            raise Problem(ErrorCode.INVALID_REQUEST, "no e-mail address for this conversation: send `email`")
        return found

    async def run(self) -> int:
        """Scheduler job: the wished-for transcripts of closed conversations, queued once each."""
        if not await self._store.transcript_candidates():
            return 0
        count = await self._store.mail_transcripts(self._drafts.transcript)
        if count:
            self._queued()
        return count
