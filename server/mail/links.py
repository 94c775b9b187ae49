"""The links mails carry: back to the chat, into the console, and out of marketing mail."""

from __future__ import annotations

from server.mail.tokens import UnsubscribeTokens
from server.settings import Settings


class MailLinks:
    def __init__(self, settings: Settings, unsubscribe: UnsubscribeTokens) -> None:
        # Mails are read far from any request: links need the server's public URL.
        self.base = (settings.public_url or "http://localhost:8000").rstrip("/")
        self._chat = (settings.mail_chat_url or self.base + "/").rstrip("#")
        self._unsubscribe = unsubscribe

    def chat(self, conversation_id: str) -> str:
        """The shop's page with the widget, asked to open this conversation."""
        return f"{self._chat}#rapport-chat={conversation_id}"

    def console(self, conversation_id: str) -> str:
        return f"{self.base}/console#conversation={conversation_id}"

    def unsubscribe(self, customer_id: str) -> str:
        return f"{self.base}/mail/unsubscribe/{self._unsubscribe.token(customer_id)}"
