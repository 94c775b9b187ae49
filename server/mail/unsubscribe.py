"""The way out of marketing mail: a signed link (in every marketing mail, and its List-Unsubscribe
header) whose confirmation, or a mail client's RFC 8058 one-click POST, turns marketing consent
off at once, with the time and the source kept."""

from __future__ import annotations

from server.errors import Problem
from server.mail.tokens import UnsubscribeTokens
from server.protocol import ErrorCode
from server.store.customers import CustomerAttributesStore

SOURCE = "email:unsubscribe"


def masked(address: str | None) -> str:
    """`a***@example.com`: enough for its owner to recognise, not for a scanner to harvest."""
    if not address or "@" not in address:
        return "your address"
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


class Unsubscribe:
    def __init__(self, tokens: UnsubscribeTokens, customers: CustomerAttributesStore) -> None:
        self._tokens = tokens
        self._customers = customers

    def token(self, customer_id: str) -> str:
        """The signed token of a customer's unsubscribe link (what the mails carry)."""
        return self._tokens.token(customer_id)

    async def who(self, token: str) -> str:
        """The (masked) address a link unsubscribes; not_found for a link we did not sign."""
        customer_id = self._tokens.customer_of(token)
        found = await self._customers.contact_of(customer_id) if customer_id else None
        if found is None:
            raise Problem(ErrorCode.NOT_FOUND, "this unsubscribe link is not valid")
        return masked(found)

    async def confirm(self, token: str) -> str:
        """Marketing consent off, now; the masked address. Repeating it changes nothing more."""
        customer_id = self._tokens.customer_of(token)
        if customer_id is None or not await self._customers.withdraw_marketing(customer_id, SOURCE):
            raise Problem(ErrorCode.NOT_FOUND, "this unsubscribe link is not valid")
        return masked(await self._customers.contact_of(customer_id))
