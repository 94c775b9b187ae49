"""What the widget is told of the server's settings: title, greeting, reply time, pre-chat, colour, place, language."""

from __future__ import annotations

import msgspec

from server.settings import Settings


class WidgetConfig(msgspec.Struct, omit_defaults=True):
    """Written into the loader (server/api/static_files.py), so the launcher has its colour and
    place at once; a shop page's `window.RapportSettings` overrides any of it."""

    color: str
    position: str
    title: str | None = None
    greeting: str | None = None
    reply_minutes: int | None = None
    prechat: list[str] = []
    language: str | None = None


def widget_config(settings: Settings) -> WidgetConfig:
    return WidgetConfig(
        color=settings.widget_color,
        position=settings.widget_position,
        title=settings.widget_title,
        greeting=settings.widget_greeting,
        reply_minutes=settings.widget_reply_minutes,
        prechat=list(settings.widget_prechat_fields),
        language=settings.widget_language,
    )
