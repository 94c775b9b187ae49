"""The new text of a customer's e-mail reply: the quoted history and the signature cut away.

Mail clients quote differently; what this recognises, in order: our own marker line (the first
line of every mail a customer may answer), the "On <date>, <someone> wrote:" line of most clients
(also split over two lines, in a few languages), Outlook's "-----Original Message-----" and
"From:/Sent:" blocks and its underscore rule, lines quoted with ">", and a "-- " signature. HTML-only
replies are read as text first, without their <blockquote> and Gmail's quote container.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser

from server.mail.drafts import REPLY_MARKER

_MARKER = re.compile(re.escape(REPLY_MARKER.strip("# ").lower()))
_WROTE = re.compile(
    r"^(on|am|le|el|op|il|em)\b.{0,300}\b(wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu)\b.{0,200}:\s*$",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(r"^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine)\s*-{2,}$", re.I)
_OUTLOOK_RULE = re.compile(r"^_{20,}$")
_HEADER_BLOCK = re.compile(r"^(from|von|de)\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^(sent|date|gesendet|envoyé|to|an|à|subject)\s*:", re.IGNORECASE)


class _TextOfHtml(HTMLParser):
    """Visible text of an HTML body, without quoted parts, scripts and styles."""

    _SKIP = frozenset({"blockquote", "script", "style", "head", "title"})
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(value or "" for name, value in attrs if name == "class")
        if self._skipping or tag in self._SKIP or "gmail_quote" in classes or "moz-cite-prefix" in classes:
            if tag not in ("br", "img", "hr", "meta", "input"):
                self._skipping.append(tag)
            return
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if self._skipping[-1] == tag:
                self._skipping.pop()
            return
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def text_of_html(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def strip_quoted(text: str) -> str:
    """What the customer wrote above the history their client quoted."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        plain = line.strip()
        nxt = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if _MARKER.search(plain.lower()) or _ORIGINAL.match(plain) or _OUTLOOK_RULE.match(plain):
            break
        if _WROTE.match(plain) or (plain and _WROTE.match(f"{plain} {nxt}")):
            break
        if _HEADER_BLOCK.match(plain) and _HEADER_NEXT.match(nxt):
            break
        if line.rstrip("\n") in ("-- ", "--"):
            break
        if plain.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def new_text(message: EmailMessage) -> str:
    """The new text of a reply: its plain part (or its HTML read as text), quoting removed."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, ValueError):  # an unknown charset, a broken encoding
        payload = body.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if body.get_content_subtype() == "html":
        content = text_of_html(content)
    return strip_quoted(content)
