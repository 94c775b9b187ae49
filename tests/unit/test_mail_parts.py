"""E-mail's pure parts: addresses and header values, the MIME a mail becomes (parsed back under a
strict policy), reply addresses and unsubscribe tokens, the new text of a reply, the templates."""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from server.mail.addresses import BadAddress, checked_address, mailbox, one_line
from server.mail.drafts import REPLY_MARKER
from server.mail.message import Envelope, HeaderInjection, compose, message_ids, new_message_id, references
from server.mail.reply_text import new_text, strip_quoted
from server.mail.templates import MailTemplates, Rendered
from server.mail.tokens import ReplyAddresses, UnsubscribeTokens
from server.settings import Settings

STRICT = email.policy.default.clone(raise_on_defect=True)


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=STRICT)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("bad", ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com",
                                 "ann@example.com\r\nBcc: x@evil.io", "<ann@example.com>", "ann@exa mple.com",
                                 '"ann"@example.com', "ann@example.com, bob@example.com", "a" * 65 + "@example.com"])
def test_only_plain_addresses_pass(bad: str) -> None:
    with pytest.raises(BadAddress):
        checked_address(bad)


def test_plain_addresses_pass() -> None:
    assert checked_address(" ann.lee+shop@mail.example.co.uk ") == "ann.lee+shop@mail.example.co.uk"


def test_one_line_removes_every_kind_of_line_break() -> None:
    assert one_line("a\r\nb\nc\rd\u2028e\u2029f\x85g\x00h\tI") == "a b c d e f g h I"
    assert one_line("x" * 500, 10) == "x" * 10


@hsettings(max_examples=300, deadline=None)
@given(name=st.text(max_size=120), subject=st.text(max_size=300), text=st.text(max_size=300))
def test_no_name_or_subject_adds_a_header_or_a_recipient(name: str, subject: str, text: str) -> None:
    envelope = Envelope(sender=mailbox("Shop", "shop@shop.test"), recipient=mailbox(name, "ann@example.com"),
                        reply_to=mailbox(name, "reply+c_1.1.x@replies.shop.test"),
                        message_id=new_message_id("shop.test"),
                        in_reply_to=name, refs=subject, unsubscribe_url="https://shop.test/mail/unsubscribe/x")
    message = parsed(compose(envelope, Rendered(subject=subject, text=text, html=text)))
    names = [k.lower() for k in message.keys()]  # noqa: SIM118 - an EmailMessage: its header names
    assert sorted(names) == sorted(
        ["from", "to", "reply-to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post",
         "mime-version", "content-type"] + [h for h in ("in-reply-to", "references") if h in names])
    assert [a.addr_spec for a in message["To"].addresses] == ["ann@example.com"]
    assert message["To"].addresses[0].display_name == one_line(name, 100)
    assert str(message["Subject"]) == one_line(subject, 300)
    body = message.get_body(("plain",))

    def lines(value: str) -> str:
        return value.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")

    assert body is not None and lines(body.get_content()) == lines(text)


def test_foreign_message_ids_are_kept_only_when_they_are_message_ids() -> None:
    assert message_ids("<a@b> junk <c d@e> <f@g>\r\nBcc: x") == ["<a@b>", "<f@g>"]
    with pytest.raises(HeaderInjection):
        compose(Envelope(sender=mailbox(None, "a@b.co"), recipient=mailbox(None, "c@d.co"), message_id="<x>\r\nBcc: y"),
                Rendered(subject="s", text="t", html="h"))
    thread = [f"<{i}@x>" for i in range(30)]
    kept = references(thread).split()
    assert kept[0] == "<0@x>" and kept[-1] == "<29@x>" and len(kept) == 10


def test_reply_addresses_name_one_conversation_and_customer_for_a_while() -> None:
    replies = ReplyAddresses(["new-key", "old-key"], "replies.shop.test", max_age=30 * 86_400)
    address = replies.address("c_abcDEF-123_xyz", "cu_ann")
    assert address is not None and len(address.partition("@")[0]) <= 64
    # Mail systems may change the case of "reply+" and the domain, not of the conversation's id.
    shouted = address.replace("reply+", "REPLY+").replace("replies.shop.test", "REPLIES.SHOP.TEST")
    token, signature = replies.parse(shouted)  # type: ignore[misc]
    assert token.conversation_id == "c_abcDEF-123_xyz" and replies.verify(token, signature, "cu_ann")
    assert not replies.verify(token, signature, "cu_bob")  # the conversation changed hands
    assert not replies.verify(token, "a" * len(signature), "cu_ann")
    assert not replies.verify(token, "é" * 16, "cu_ann")  # not even a crash
    stale = replies.address("c_abcDEF-123_xyz", "cu_ann", now=time.time() - 31 * 86_400)
    assert stale is not None
    old_token, old_signature = replies.parse(stale)  # type: ignore[misc]
    assert not replies.verify(old_token, old_signature, "cu_ann")
    # Signed with a key that is still listed (rotation): valid.
    before = ReplyAddresses(["old-key"], "replies.shop.test", max_age=30 * 86_400).address("c_1", "cu_ann")
    assert before is not None
    rotated_token, rotated_signature = replies.parse(before)  # type: ignore[misc]
    assert replies.verify(rotated_token, rotated_signature, "cu_ann")
    for junk in ("reply+@x.io", "reply+a.b@x.io", "reply+c_1.zz.sig@x.io", "someone@x.io", "reply+c_1.1.sig"):
        assert replies.parse(junk) is None
    assert ReplyAddresses(["k"], None, 86_400).address("c_1", "cu_1") is None


def test_unsubscribe_tokens() -> None:
    tokens = UnsubscribeTokens(["k1"])
    token = tokens.token("cu_ann")
    assert tokens.customer_of(token) == "cu_ann"
    assert UnsubscribeTokens(["k2", "k1"]).customer_of(token) == "cu_ann"
    assert UnsubscribeTokens(["k2"]).customer_of(token) is None
    assert tokens.customer_of("cu_bob" + token[len("cu_ann"):]) is None
    assert tokens.customer_of("\u00f4\u00b27\u00d0.\u00e6K") is None and tokens.customer_of("") is None


QUOTES = {
    "gmail": "Sounds good, thanks!\n\nOn Tue, 1 Dec 2026 at 10:00, Test Shop <shop@shop.test>\nwrote:\n\n> Hello",
    "apple": "Sounds good, thanks!\n\n> On 1 Dec 2026, at 10:00, Test Shop <shop@shop.test> wrote:\n> Hello",
    "outlook": "Sounds good, thanks!\n\n________________________________\nFrom: Test Shop\nSent: Tuesday\nHello",
    "outlook-original": "Sounds good, thanks!\n-----Original Message-----\nFrom: Test Shop",
    "headers": "Sounds good, thanks!\n\nFrom: Test Shop <shop@shop.test>\nSent: Tuesday, 1 December 2026\nHello",
    "german": "Sounds good, thanks!\n\nAm Di., 1. Dez. 2026 um 10:00 Uhr schrieb Test Shop <shop@shop.test>:\n> Hallo",
    "marker": f"Sounds good, thanks!\n\n{REPLY_MARKER}\nHello Ann",
    "signature": "Sounds good, thanks!\n-- \nAnn Lee\nSent from my phone",
}


@pytest.mark.parametrize("client", sorted(QUOTES))
def test_quoted_history_is_stripped(client: str) -> None:
    assert strip_quoted(QUOTES[client]) == "Sounds good, thanks!"


def test_html_only_replies_lose_their_quotes() -> None:
    message = EmailMessage()
    message["Subject"] = "Re"
    message.set_content('<div dir="ltr">Yes <b>please</b><br>Ann</div><div class="gmail_quote">On Tue wrote:'
                        "<blockquote>old <i>text</i></blockquote></div>", subtype="html")
    assert new_text(message) == "Yes please\nAnn"


def test_every_template_renders_and_escapes() -> None:
    templates = MailTemplates(Settings(mail_shop_name="Shop & <Co>", mail_logo_url="javascript:alert(1)"))
    hostile = "<script>x</script>"
    contexts = {
        "offline_reply": {"customer_name": hostile, "replies": [{"author_name": hostile, "text": hostile}],
                          "chat_url": "https://shop.test/#rapport-chat=c_1", "reply_marker": REPLY_MARKER},
        "transcript": {"customer_name": hostile, "lines": [{"when": "now", "who": hostile, "text": hostile}]},
        "agent_alert": {"agent_name": hostile, "customer_name": hostile, "text": hostile, "waited": "5 minutes",
                        "console_url": "https://shop.test/console"},
        "notification": {"customer_name": hostile, "title": hostile, "body": hostile, "url": None,
                         "voucher_code": hostile, "expires_on": None},
    }
    for kind, context in contexts.items():
        rendered = templates.render(kind, context)
        assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html, kind
        assert "Shop &amp; &lt;Co&gt;" in rendered.html and "javascript:" not in rendered.html, kind
        assert "\n" not in rendered.subject and rendered.text.strip(), kind
        assert hostile in rendered.text, kind  # the text part is text: nothing escaped, nothing run
