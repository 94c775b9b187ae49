"""E-mail over HTTP: the queue and its dead letters for admins, a transcript on request, customers'
replies posted by mail providers (raw MIME), and the unsubscribe link's page and one-click POST."""

from __future__ import annotations

import base64
import email
import email.policy
import hmac
import html
from typing import Annotated

import msgspec
from starlette.responses import HTMLResponse, Response

from server.api.edge import read_body
from server.api.endpoint import CALLER, PUBLIC, Call, Query, Resource, console
from server.errors import Problem
from server.mail.listener import MAX_BYTES
from server.mail.queue import MailItem, MailList
from server.protocol import ErrorCode

resource = Resource("mail")


class TranscriptIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Where to send it: omit to use the address the conversation (or the shop) already has."""

    email: Annotated[str, msgspec.Meta(max_length=254)] | None = None


class TranscriptOut(msgspec.Struct):
    # Where the transcript goes, once the conversation is closed (at once if it is).
    email: str


class InboundOut(msgspec.Struct):
    # stored: the customer's message; ignored: an automatic reply or nothing new; refused: not a
    # valid reply address (forged or stale), nothing stored.
    outcome: str
    reason: str
    conversation_id: str | None = None
    seq: int | None = None


_STATUS = ("queued", "sent", "dead", "suppressed")


@resource.endpoint(
    "GET",
    "/api/v1/mail",
    summary="The mail queue: counts, and the latest mails of one status (dead letters by default)",
    access=console("admin"),
    response=MailList,
    query={
        "status": Query(str, "dead", "queued, sent, dead or suppressed", max_length=12),
        "limit": Query(int, 100, "most recent first", low=1, high=1000),
    },
)
async def mail_queue(call: Call) -> MailList:
    status = call.query["status"]
    if status not in _STATUS:
        raise Problem(ErrorCode.INVALID_REQUEST, f"status is one of {', '.join(_STATUS)}")
    return await call.node.mail.queue.listing(status, call.query["limit"])


@resource.endpoint(
    "POST",
    "/api/v1/mail/{mail_id:str}/retry",
    summary="Queue a dead letter again, due now",
    access=console("admin"),
    response=MailItem,
)
async def retry_mail(call: Call) -> MailItem:
    return await call.node.mail.queue.retry(call.path["mail_id"])


@resource.endpoint(
    "POST",
    "/api/v1/conversations/{conversation_id:str}/transcript",
    summary="E-mail the transcript when the conversation closes (at once if it is closed)",
    access=CALLER,
    body=TranscriptIn,
    response=TranscriptOut,
    status=202,
)
async def transcript(call: Call) -> TranscriptOut:
    assert call.actor is not None  # noqa: S101
    body: TranscriptIn = call.body
    address = await call.node.mail.transcripts.request(call.actor, call.path["conversation_id"], body.email)
    return TranscriptOut(email=address)


def _inbound_allowed(call: Call) -> bool:
    secret = call.node.settings.mail_inbound_secret
    if secret is None:
        return True
    given = call.query.get("key") or ""
    scheme, _, value = call.request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            given = base64.b64decode(value, validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            given = ""
    return hmac.compare_digest(given.encode(), secret.encode())


def _form_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """multipart/form-data read as MIME (its parts are MIME parts): field name -> raw value."""
    form = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace") + body, policy=email.policy.HTTP
    )
    fields: dict[str, bytes] = {}
    if not form.is_multipart():
        return fields
    for part in form.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def _recipients(fields: dict[str, bytes]) -> list[str]:
    """The envelope recipients a provider names beside the message (Mailgun, SendGrid)."""
    found = []
    if "recipient" in fields:
        found += fields["recipient"].decode(errors="replace").split(",")
    if "envelope" in fields:
        try:
            to = msgspec.json.decode(fields["envelope"]).get("to", [])
        except (msgspec.DecodeError, AttributeError):
            to = []
        found += [t for t in to if isinstance(t, str)] if isinstance(to, list) else []
    return [a.strip() for a in found if a.strip()]


@resource.endpoint(
    "POST",
    "/api/v1/mail/inbound",
    summary="A customer's e-mail reply, posted by a mail provider: raw MIME as the body (message/rfc822),"
    " or multipart/form-data with the raw message in `body-mime` (Mailgun), `email` (SendGrid) or `mime`."
    " Answers 200 with what was done, a refusal included (so the provider does not retry it)",
    access=PUBLIC,
    response=InboundOut,
    query={"key": Query(str, None, "RAPPORT_MAIL_INBOUND_SECRET, if not given by HTTP Basic auth")},
    max_body=MAX_BYTES,
)
async def inbound(call: Call) -> InboundOut:
    if not _inbound_allowed(call):
        raise Problem(ErrorCode.UNAUTHORIZED, "the inbound secret is missing or wrong")
    body = await read_body(call.request, MAX_BYTES)
    content_type = call.request.headers.get("content-type", "")
    recipients: list[str] = []
    raw = body
    if content_type.lower().startswith("multipart/form-data"):
        fields = _form_fields(content_type, body)
        found = next((fields[name] for name in ("body-mime", "email", "mime") if name in fields), None)
        if found is None:
            raise Problem(ErrorCode.INVALID_REQUEST, "no raw message in the form (body-mime, email or mime)")
        raw, recipients = found, _recipients(fields)
    if not raw.strip():
        raise Problem(ErrorCode.INVALID_REQUEST, "an empty message")
    received = await call.node.mail.inbound.receive(raw, recipients)
    return InboundOut(
        outcome=received.outcome, reason=received.reason, conversation_id=received.conversation_id, seq=received.seq
    )


def _page(title: str, paragraphs: list[str], *, form: str | None = None, status: int = 200) -> HTMLResponse:
    shown = "".join(f"<p>{p}</p>" for p in paragraphs)
    button = (
        f'<form method="post" action="{html.escape(form)}"><button type="submit">Unsubscribe</button></form>'
        if form
        else ""
    )
    return HTMLResponse(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport"'
        f' content="width=device-width"><title>{html.escape(title)}</title></head><body>'
        f"<h1>{html.escape(title)}</h1>{shown}{button}</body></html>",
        status_code=status,
    )


@resource.endpoint(
    "GET",
    "/mail/unsubscribe/{token:str}",
    summary="The unsubscribe link's page: asks to confirm (mail scanners follow links; only the POST acts)",
    access=PUBLIC,
)
async def unsubscribe_page(call: Call) -> Response:
    token = call.path["token"]
    try:
        who = await call.node.mail.unsubscribe.who(token)
    except Problem:
        return _page("Link not valid", ["This unsubscribe link is not valid."], status=404)
    shop = html.escape(call.node.settings.mail_shop_name)
    return _page(
        "Unsubscribe",
        [
            f"Stop offers and news from {shop} by e-mail to {html.escape(who)}?",
            "Order updates and replies to your messages still reach you.",
        ],
        form=f"/mail/unsubscribe/{token}",
    )


@resource.endpoint(
    "POST",
    "/mail/unsubscribe/{token:str}",
    summary="Unsubscribe: marketing consent off at once (the confirm page's button, or a mail client's"
    " RFC 8058 one-click POST with List-Unsubscribe=One-Click)",
    access=PUBLIC,
    max_body=4096,
)
async def unsubscribe(call: Call) -> Response:
    await read_body(call.request, 4096)  # List-Unsubscribe=One-Click, or the page's empty form
    try:
        who = await call.node.mail.unsubscribe.confirm(call.path["token"])
    except Problem:
        return _page("Link not valid", ["This unsubscribe link is not valid."], status=404)
    shop = html.escape(call.node.settings.mail_shop_name)
    return _page("Unsubscribed", [f"{html.escape(who)} gets no more offers from {shop} by e-mail."])
