"""Every WebSocket frame as a typed model: decode and validate in, encode out, close and error codes.

This module is the single JSON codec of the project (msgspec: it validates while it decodes,
twice as fast as pydantic v2 on a chat frame and six times to encode, see bench/frames.py) and knows nothing of sockets,
SQL or brokers. docs/protocol.md describes the conversation between client and server;
docs/asyncapi.json is generated from these models by `python -m server.schema`.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import msgspec

# Hard schema bounds. The tighter, operator-tunable limits (message length, frame size, rate)
# live in settings and are checked at the edge; these only stop absurd input at decode time.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Text = Annotated[str, msgspec.Meta(max_length=65536)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**53)]

EventKind = Literal["message", "note", "edit", "status", "assigned", "read", "rating"]
NotificationKind = Literal["order", "offer", "news", "product", "promotion", "survey", "reminder", "greeting"]
TrackAction = Literal["delivered", "opened", "clicked", "dismissed"]
PropValue = Annotated[str, msgspec.Meta(max_length=500)] | int | float | bool
ConversationStatus = Literal["waiting", "assigned", "closed"]
AuthorType = Literal["customer", "agent", "system"]
PresenceStatus = Literal["online", "away", "offline"]

# Most cursors one hello may carry (a client following more resumes the rest from the start).
RESUME_MAX = 100


class CloseCode(enum.IntEnum):
    """Close codes the server uses, beyond the standard 1000/1001/1009/1011/1012.

    4000-4499: the client should reconnect (with backoff and jitter) and resume from its cursors.
    4500-4999: terminal; reconnecting with the same credentials will fail the same way.
    """

    SHUTDOWN = 4000
    SLOW_CONSUMER = 4001
    RATE_LIMITED = 4002
    HELLO_TIMEOUT = 4003
    UNAUTHORIZED = 4500
    BAD_PROTOCOL = 4501
    FORBIDDEN = 4503
    SESSION_ENDED = 4504

    @property
    def reconnect(self) -> bool:
        return self.value < 4500


class ErrorCode(enum.StrEnum):
    """Machine-readable error codes carried by `error` frames and HTTP problem responses."""

    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FRAME = "invalid_frame"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    HELLO_REQUIRED = "hello_required"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID_REQUEST = "invalid_request"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class Frame(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, tag_field="type"):
    """Base of every frame: a JSON object whose `type` names it; unknown fields are refused."""


# ---------------------------------------------------------------- client to server


class Identity(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A logged-in shop customer, vouched for by the shop's back end (JWT or HMAC of user_id).

    Name and e-mail are not accepted here: a browser can say anything. They come from the
    shop, through the customers API or as `name` and `email` claims of the signed JWT.
    """

    user_id: Id
    token: Token | None = None
    user_hash: Annotated[str, msgspec.Meta(max_length=128)] | None = None


class Hello(Frame, tag="hello"):
    """First frame on every connection. `resume` maps conversation ids to the last seq seen;
    `inbox` is the last seq seen of the customer's notification stream."""

    visitor_token: Token | None = None
    identity: Identity | None = None
    epoch: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    resume: Annotated[dict[Id, Seq], msgspec.Meta(max_length=RESUME_MAX)] = {}
    inbox: Seq | None = None
    # Agents: the status to come back with (an away agent who reconnects stays away, and is not
    # given a chat by auto-assignment in between); omitted: online.
    status: Literal["online", "away"] | None = None


Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Contact(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """How a shopper asks to be answered (the offline and pre-chat forms): kept on the
    conversation as their own word, never as the customer's identity (that is the shop's)."""

    email: Email | None = None
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    # "Send me the transcript": stored as a wish; sending it is the e-mail service's.
    transcript: bool = False


class MessageSend(Frame, tag="message.send"):
    """A chat message (or, from an agent with private=true, a note). No conversation_id: start one.
    Customers may add `contact` (stored on the conversation with the message)."""

    client_id: ClientId
    text: Text
    conversation_id: Id | None = None
    private: bool = False
    contact: Contact | None = None


class MessageEdit(Frame, tag="message.edit"):
    client_id: ClientId
    conversation_id: Id
    seq: Seq
    text: Text


class Typing(Frame, tag="typing"):
    conversation_id: Id
    active: bool = True


class Read(Frame, tag="read"):
    conversation_id: Id
    seq: Seq


class Resume(Frame, tag="resume"):
    """Ask for everything after `after` in one conversation (after a gap, or to load history)."""

    conversation_id: Id
    after: Seq = 0


class ConversationTake(Frame, tag="conversation.take"):
    client_id: ClientId
    conversation_id: Id


class ConversationTransfer(Frame, tag="conversation.transfer"):
    """Hand a conversation to another agent; `note` is a handover note, stored as a private note
    (agents only) in the same transaction as the transfer, just before it."""

    client_id: ClientId
    conversation_id: Id
    agent_id: Id
    note: Text | None = None


class ConversationClose(Frame, tag="conversation.close"):
    client_id: ClientId
    conversation_id: Id


class ConversationReopen(Frame, tag="conversation.reopen"):
    client_id: ClientId
    conversation_id: Id


class ConversationRate(Frame, tag="conversation.rate"):
    """Customers: the satisfaction survey of a closed conversation, once (a `rating` event)."""

    client_id: ClientId
    conversation_id: Id
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class PresenceSet(Frame, tag="presence.set"):
    status: Literal["online", "away"]


class NotificationTrack(Frame, tag="notification.track"):
    """What the customer did with a notification of their inbox (tracked per campaign)."""

    seq: Seq
    action: TrackAction


SurveyValue = Annotated[str, msgspec.Meta(max_length=2000)] | int


class SurveyAnswer(Frame, tag="survey.answer"):
    """Answers to the survey a notification (`seq`) carries, by question id; once per customer."""

    client_id: ClientId
    seq: Seq
    answers: Annotated[dict[Annotated[str, msgspec.Meta(max_length=32)], SurveyValue], msgspec.Meta(max_length=20)]


class OrdersList(Frame, tag="orders.list"):
    """Identified customers: their recent orders, each with its latest status (answer: `orders`)."""


class ConsentSet(Frame, tag="consent.set"):
    """Identified customers: offers and news (marketing) on or off ("no offers, thanks")."""

    marketing: bool


class PageView(Frame, tag="page.view"):
    """The shopper is on this page now (for page-triggered campaigns)."""

    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    title: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class Track(Frame, tag="track"):
    """A named event from the page, e.g. `Rapport('track', 'added_to_cart', {sku: 'X'})`."""

    name: Id
    props: Annotated[dict[Annotated[str, msgspec.Meta(max_length=64)], PropValue], msgspec.Meta(max_length=20)] = {}


ClientFrame = (
    Hello
    | MessageSend
    | MessageEdit
    | Typing
    | Read
    | Resume
    | ConversationTake
    | ConversationTransfer
    | ConversationClose
    | ConversationReopen
    | ConversationRate
    | PresenceSet
    | NotificationTrack
    | SurveyAnswer
    | OrdersList
    | ConsentSet
    | PageView
    | Track
)

# ---------------------------------------------------------------- server to client


class ConversationSummary(msgspec.Struct, omit_defaults=True):
    id: str
    status: ConversationStatus
    last_seq: int
    created_at: int
    customer_id: str
    customer_name: str | None = None
    agent_id: str | None = None
    preview: str | None = None
    # What the shopper left in the widget: contact for the reply, the transcript wish, the survey.
    contact_email: str | None = None
    contact_name: str | None = None
    transcript_wanted: bool = False
    rating: int | None = None
    rating_comment: str | None = None
    # When the last message (not a note) was written, server time in ms.
    last_message_at: int | None = None
    # Customer messages no agent has read yet (agents' `read` frames bring it back to 0).
    agent_unread: int = 0


class AgentInfo(msgspec.Struct, omit_defaults=True):
    id: str
    name: str
    role: str
    status: PresenceStatus = "offline"


class CustomerProfile(msgspec.Struct, omit_defaults=True):
    """What the shop told us of this customer, for a personal greeting (identified customers)."""

    name: str | None = None
    loyalty_points: int = 0
    tier: str | None = None
    marketing_consent: bool = False


class Welcome(Frame, tag="welcome"):
    role: Literal["customer", "agent"]
    epoch: str
    max_message_chars: int
    agents_online: bool
    conversations: list[ConversationSummary] = []
    visitor_token: str | None = None
    customer_id: str | None = None
    profile: CustomerProfile | None = None
    agent: AgentInfo | None = None


class Ack(Frame, tag="ack"):
    """The client frame `client_id` was committed as `seq` of `conversation_id`."""

    client_id: str
    conversation_id: str
    seq: int
    duplicate: bool = False


class Error(Frame, tag="error"):
    code: ErrorCode
    message: str
    client_id: str | None = None


class Event(Frame, tag="event"):
    """One stored event of a conversation; `seq` increases by one per event in that conversation.

    A customer never receives `note` events, so the seqs a customer sees may skip numbers.
    """

    conversation_id: str
    seq: int
    kind: EventKind
    at: int
    author_type: AuthorType
    author_id: str | None = None
    author_name: str | None = None
    text: str | None = None
    client_id: str | None = None
    target_seq: int | None = None
    status: ConversationStatus | None = None
    agent_id: str | None = None
    # `rating`: the satisfaction score, 1 to 5 (its comment is `text`).
    score: int | None = None
    # `assigned`: the name of the agent it is assigned to (the author is who assigned it).
    agent_name: str | None = None


class Resumed(Frame, tag="resumed"):
    """Everything up to `seq` of the conversation has been sent; live events follow."""

    conversation_id: str
    seq: int


class Reset(Frame, tag="reset"):
    """A partial resume is impossible (epoch changed, or past retention): replace local state."""

    conversation: ConversationSummary
    epoch: str
    events: list[Event]


class TypingNotice(Frame, tag="typing"):
    conversation_id: str
    author_type: AuthorType
    active: bool
    author_id: str | None = None
    author_name: str | None = None


class Presence(Frame, tag="presence"):
    agents_online: bool
    agents: list[AgentInfo] | None = None


class Queue(Frame, tag="queue"):
    """Agents only: the conversations waiting for an agent, oldest first."""

    waiting: list[ConversationSummary]


class ConversationUpdate(Frame, tag="conversation"):
    """Agents only: a conversation's summary changed (assigned to you, transferred away, closed)."""

    conversation: ConversationSummary


class VoucherInfo(msgspec.Struct, omit_defaults=True):
    code: str
    kind: Literal["amount", "percent"]
    amount: float
    currency: str | None = None
    expires_at: int | None = None
    redeemed: bool = False


class Notification(Frame, tag="notification"):
    """One item of the customer's notification stream (their inbox); `seq` grows by one per item."""

    seq: int
    kind: NotificationKind
    title: str
    body: str
    at: int
    marketing: bool
    url: str | None = None
    data: dict[str, Any] | None = None
    voucher: VoucherInfo | None = None
    campaign_id: str | None = None
    expires_at: int | None = None


class SurveyAnswered(Frame, tag="survey.answered"):
    """The answers of `client_id` to the survey of notification `seq` are stored (`duplicate`: before)."""

    client_id: str
    seq: int
    duplicate: bool = False


class OrderStatus(msgspec.Struct, omit_defaults=True):
    """One order as its latest update told it."""

    order_id: str
    status: str
    title: str
    text: str
    at: int
    url: str | None = None


class Orders(Frame, tag="orders"):
    """The answer to `orders.list`: the customer's recent orders, the latest first."""

    orders: list[OrderStatus]


class Consent(Frame, tag="consent"):
    """The customer's marketing consent as stored now (the answer to `consent.set`)."""

    marketing: bool


class InboxResumed(Frame, tag="inbox.resumed"):
    """Everything up to `seq` of the inbox has been sent; live notifications follow."""

    seq: int


class InboxReset(Frame, tag="inbox.reset"):
    """Replace the local inbox with these (the latest unexpired) notifications."""

    seq: int
    notifications: list[Notification]


ServerFrame = (
    Welcome
    | Ack
    | Error
    | Event
    | Resumed
    | Reset
    | TypingNotice
    | Presence
    | Queue
    | ConversationUpdate
    | Notification
    | InboxResumed
    | InboxReset
    | SurveyAnswered
    | Orders
    | Consent
)

_client_decoder = msgspec.json.Decoder(ClientFrame)
_encoder = msgspec.json.Encoder()


class FrameError(Exception):
    """A client frame that cannot be accepted; `code` goes back to the client in an error frame."""

    def __init__(self, code: ErrorCode, message: str, client_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_id = client_id


_TYPES = frozenset(cls.__struct_config__.tag for cls in ClientFrame.__args__)


def decode_client_frame(raw: str | bytes) -> ClientFrame:
    """Decode and validate one client frame, or raise FrameError with the right code."""
    try:
        frame: ClientFrame = _client_decoder.decode(raw)
        return frame
    except msgspec.ValidationError as exc:
        try:
            return _refuse(raw, str(exc))
        except RecursionError:  # the generic decode of a frame nested thousands deep
            return _raise(ErrorCode.INVALID_FRAME, "frame is nested too deeply")
    except msgspec.DecodeError:
        return _raise(ErrorCode.BAD_JSON, "frame is not valid JSON")
    except RecursionError:
        return _raise(ErrorCode.INVALID_FRAME, "frame is nested too deeply")


def _refuse(raw: str | bytes, detail: str) -> ClientFrame:
    """Why a frame failed validation, from what it holds: decoded again, generically, only on this
    error path. msgspec's `detail` is passed on to the client as the human message, never read."""
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError:  # validation failed before the parser met the broken JSON further on
        return _raise(ErrorCode.BAD_JSON, "frame is not valid JSON")
    if not isinstance(obj, dict):
        return _raise(ErrorCode.INVALID_FRAME, detail)
    if "type" not in obj:
        return _raise(ErrorCode.INVALID_FRAME, "frame has no `type`")
    kind = obj["type"]
    # Distinguish "I don't know this frame" from "this frame is malformed": the first is a
    # client/server version mismatch and deserves its own code.
    if isinstance(kind, str) and kind not in _TYPES:
        return _raise(ErrorCode.UNKNOWN_TYPE, f"unknown frame type; known: {', '.join(sorted(_TYPES))}")
    cid = obj.get("client_id")
    # Echo the client's id, so it can match the error to its pending frame.
    return _raise(ErrorCode.INVALID_FRAME, detail, cid if isinstance(cid, str) and len(cid) <= 64 else None)


def _raise(code: ErrorCode, message: str, client_id: str | None = None) -> ClientFrame:
    raise FrameError(code, message, client_id)


def encode(value: Any) -> bytes:
    """The one JSON encoder: frames, REST bodies, broker payloads."""
    return _encoder.encode(value)


def encode_text(value: Any) -> str:
    return _encoder.encode(value).decode()


def decode_json(raw: str | bytes) -> Any:
    return msgspec.json.decode(raw)
