"""The widget's scripts minified as served: what goes (comments, layout) and what must stay (every token,
the line breaks a statement may end at, the spaces that keep two tokens apart, text in templates)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.api.minify import Unreadable, minify

STATIC = Path(__file__).resolve().parents[2] / "static"


@pytest.mark.parametrize(("source", "expected"), [
    # Comments go; what looks like one inside a string, template or regular expression stays.
    ('const a = "// kept"; // gone\n/* gone */ f(a);', 'const a="// kept";f(a);'),
    ("const u = `http://x`; const r = /\\/\\/ y/g;", "const u=`http://x`;const r=/\\/\\/ y/g;"),
    # A regular expression keeps its spaces; a division is not mistaken for one.
    ("x = a / b / c; y = s.replace(/a  b/g, ' ');", "x=a/b/c;y=s.replace(/a  b/g,' ');"),
    ("n = i++ / 2; m = (a) / 2;", "n=i++/2;m=(a)/2;"),
    ("return /[/ ]+/.test(s);", "return/[/ ]+/.test(s);"),
    # Spaces that keep tokens apart stay.
    ("a = b + +c - -d + ++e;", "a=b+ +c- -d+ ++e;"),
    ("if (x in y) return typeof z;", "if(x in y)return typeof z;"),
    ("const n = 1 .toString() + 1.5 + .5 + 1e-3 + 86_400_000;", "const n=1 .toString()+1.5+.5+1e-3+86_400_000;"),
    # Line breaks where a statement may end stay (automatic semicolons); the others go.
    ("let a = 1\nlet b = a\n(f)()", "let a=1\nlet b=a\n(f)()"),
    ("function f() {\n  return\n  x;\n}", "function f(){return\nx;}"),
    ("a\n++b", "a\n++b"),
    ("promise\n  .then(f)\n  .catch(g);\nconst x = {\n  a: 1,\n};", "promise.then(f).catch(g);const x={a:1,};"),
    # htm templates: whitespace with a line break goes beside tags, is one line break between
    # attributes; spaces without a line break (text, a space between two components) stay.
    ('html`<div\n    class="a"\n    id=${x}>\n  <b>${y}</b> <i>z</i>\n</div>`',
     'html`<div\nclass="a"\nid=${x}><b>${y}</b> <i>z</i></div>`'),
    # Nested templates: each is read whole, the code in ${} minified, the inner htm too.
    ('html`<p>${a ? html`<b  class="x"\n   id="y">${t("k", { n: 1 })} · </b>` : `a  ${b}  c`}</p>`',
     'html`<p>${a?html`<b  class="x"\nid="y">${t("k",{n:1})} · </b>`:`a  ${b}  c`}</p>`'),
    # A template of anything else keeps its text as it is.
    ("const css = `\n  a { b: c }\n`;", "const css=`\n  a { b: c }\n`;"),
])
def test_minified(source: str, expected: str) -> None:
    assert minify(source) == expected


@pytest.mark.parametrize("source", ['const a = "open;', "const a = `open;", "/* open", "x = /open"])
def test_what_it_cannot_read_is_refused(source: str) -> None:
    with pytest.raises(Unreadable):
        minify(source)


@pytest.mark.parametrize("path", sorted((STATIC / "widget").glob("*.js")), ids=lambda p: p.name)
def test_every_widget_script_minifies_and_shrinks(path: Path) -> None:
    source = path.read_text()
    result = minify(source)
    assert len(result) < len(source)
    assert minify(result) == result
    if path.name != "styles.js":  # its CSS is one untagged template, kept as written
        assert "\n  " not in result  # no indentation left
