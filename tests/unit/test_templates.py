"""Campaign templates: text without markup skips Jinja and must come out exactly as Jinja renders it."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from server.push import templates

CONTEXT = {"customer": {"first_name": "Ann"}, "voucher": None, "campaign": {"name": "x"}}


def through_jinja(source: str) -> str:
    return templates._compiled(source).render(CONTEXT).strip()[: templates.MAX_OUTPUT]


@settings(max_examples=2000)
@given(st.text(alphabet=st.characters(blacklist_characters="{", blacklist_categories=("Cs",)), max_size=300))
def test_text_without_markup_renders_as_jinja_would(source: str) -> None:
    assert templates.render(source, CONTEXT, field="body") == through_jinja(source)


def test_the_shortcut_is_taken_only_without_markup() -> None:
    for source in ("Hi {{ customer.first_name }}", "{# note #}Sale", "{% if true %}Yes{% endif %}"):
        assert templates.render(source, CONTEXT, field="title") == through_jinja(source)
    assert templates.render("Hi {{ customer.first_name }}!", CONTEXT, field="title") == "Hi Ann!"
    assert templates.render("  Our summer sale\n", CONTEXT, field="body") == "Our summer sale"
    assert templates.render("Line one\r\nline two\rthree", CONTEXT, field="body") == "Line one\nline two\nthree"
