"""One Jinja2 template per kind of mail, rendering its subject, text and HTML parts.

Autoescape is on for the HTML (every value from a person is escaped there); the subject and the
text part are plain text (their blocks turn it off). Templates are the project's own files, not
marketers' input, so they run in a plain environment; what marketers write is rendered before
(push/templates.py, sandboxed) and reaches these templates as values.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2
import msgspec

from server.mail.addresses import one_line
from server.settings import Settings

KINDS = ("offline_reply", "transcript", "agent_alert", "notification")


class Rendered(msgspec.Struct, frozen=True):
    subject: str
    text: str
    html: str


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("server.mail", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=False,
    )


def safe_url(url: object) -> str | None:
    """A link we may put in a mail: http(s) only (never `javascript:` and the like)."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")) and len(url) <= 2000:
        return url
    return None


class MailTemplates:
    """Renders a kind of mail with the shop's name, logo and colour from settings."""

    def __init__(self, settings: Settings) -> None:
        self._shop = {
            "shop_name": settings.mail_shop_name,
            "logo_url": safe_url(settings.mail_logo_url),
            "colour": settings.mail_colour,
            "unsubscribe_url": None,
        }
        for kind in KINDS:  # a broken template fails at start, not on the first mail of its kind
            _environment().get_template(f"{kind}.jinja")

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        template = _environment().get_template(f"{kind}.jinja")
        values = {**self._shop, **context}
        subject = "".join(template.blocks["subject"](template.new_context(values)))
        text = "".join(template.blocks["text"](template.new_context(values)))
        html = template.render(values)
        return Rendered(subject=one_line(subject, 200), text=text.strip() + "\n", html=html)
