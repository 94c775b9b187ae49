"""Who a shopper is: anonymous visitors (our signed token) and customers the shop vouches for.

An anonymous visitor gets a token naming a customer id at once, but nothing is stored until they
first write (ChatService makes the record in that transaction): a visitor who only looks costs
no row, and hellos cannot fill the customers table. A token names an anonymous record only: once
that visitor logs in, only the shop's proof opens their conversations, and the anonymous
sockets still open on the old token are closed (`x:visitor` on their channel).
"""

from __future__ import annotations

from server import streams
from server.auth.identity import IdentityError, VerifiedCustomer, VisitorTokens, verify_customer, verify_customer_token
from server.broker import Broker
from server.chat.access import Actor
from server.errors import Problem
from server.ids import new_id
from server.protocol import Error, ErrorCode, Identity, encode
from server.settings import Settings
from server.store.customers import CustomerRecord, CustomerStore

# The session name of an anonymous shopper's sockets (see Peer.session).
ANONYMOUS = "visitor"


class Visitors:
    def __init__(
        self, customers: CustomerStore, tokens: VisitorTokens, broker: Broker, settings: Settings, shop_secret: str
    ) -> None:
        self._customers = customers
        self._tokens = tokens
        self._broker = broker
        self._settings = settings
        self._shop_secret = shop_secret

    def new_visitor(self) -> str:
        """An id for a new anonymous visitor; stored when they first write."""
        return new_id("cu")

    def token_for(self, customer_id: str) -> str:
        return self._tokens.issue(customer_id)

    async def visitor_of(self, token: str | None) -> str | None:
        """The anonymous customer a visitor token names, if it is still anonymous.

        A token of a visitor who has since logged in grants nothing: only the shop's proof opens
        an identified customer's conversations (an e-mail someone types proves nothing either).
        """
        if token is None:
            return None
        try:
            customer_id = self._tokens.customer_id(token)
        except IdentityError:
            return None
        record = await self._customers.by_id(customer_id)
        if record is not None and record.external_id is not None:
            return None
        return customer_id

    def verify(self, identity: Identity) -> VerifiedCustomer:
        s = self._settings
        try:
            return verify_customer(
                identity, self._shop_secret, leeway=s.customer_token_leeway, max_age=s.customer_token_max_age
            )
        except IdentityError as exc:
            raise Problem(ErrorCode.UNAUTHORIZED, str(exc)) from None

    async def identify(self, verified: VerifiedCustomer, visitor_id: str | None) -> CustomerRecord:
        """The customer record of a verified shop user, the visitor's history joined to it; the
        visitor's anonymous sockets are closed (their token no longer grants anything)."""
        record = await self._customers.identify(
            verified.user_id, name=verified.name, email=verified.email, visitor_id=visitor_id
        )
        if visitor_id is not None:
            frame = encode(Error(code=ErrorCode.UNAUTHORIZED, message="you logged in elsewhere; reconnect"))
            await self._broker.publish(streams.customer(visitor_id), streams.end_envelope(ANONYMOUS, frame))
        return record

    async def bearer(self, token: str) -> Actor:
        """A customer calling REST with `Authorization: Bearer` (a visitor token or a shop JWT)."""
        try:
            customer_id = self._tokens.customer_id(token)
        except IdentityError:
            customer_id = None
        if customer_id is not None:
            if await self.visitor_of(token) is None:
                raise Problem(ErrorCode.UNAUTHORIZED, "visitor token no longer grants access")
            return Actor(type="customer", id=customer_id)
        s = self._settings
        try:
            verified = verify_customer_token(
                token, self._shop_secret, leeway=s.customer_token_leeway, max_age=s.customer_token_max_age
            )
        except IdentityError as exc:
            raise Problem(ErrorCode.UNAUTHORIZED, f"bearer token refused: {exc}") from None
        record = await self._customers.identify(
            verified.user_id, name=verified.name, email=verified.email, visitor_id=None
        )
        return Actor(type="customer", id=record.id, name=record.name)
