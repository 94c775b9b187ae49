"""The widget's build as served: our own first-open modules joined into the entry, the tabs fetched later
pointed at it, a version that follows the files, and a plain module-by-module build when joining cannot."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from server.api.widget_build import WidgetBuild
from server.api.widget_bundle import Unbundleable, bundle

STATIC = Path(__file__).resolve().parents[2] / "static"
LATER = ["widget/orders.js", "widget/rating.js", "widget/threads.js", "widget/updates.js"]


def test_the_first_open_is_one_module_of_ours_and_the_vendored_ones(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rapport.widget"):
        build = WidgetBuild(STATIC)
    assert caplog.records == []
    assert build.eager == ["vendor/htm.js", "vendor/preact-hooks.js", "vendor/preact.js", "widget/widget.js"]
    assert build.lazy == LATER
    entry = build.files["widget/widget.js"].decode()
    assert 'from"./' not in entry  # nothing of ours imported apart: each module exists once in the page
    assert entry.count("$$ui={") == 1 and entry.endswith("export{" + entry.split("export{")[-1])
    for name in LATER:
        text = build.files[name].decode()
        # Imports of ours go to the joined module, never to a second copy of ui.js (a second Preact).
        assert 'from"./ui.js"' not in text and 'from"./widget.js"' in text, name
    loader = build.loader({"color": "#123456"}).decode()
    assert '/*build*/{"version":"' + build.version in loader
    assert '"files":["vendor/htm.js","vendor/preact-hooks.js","vendor/preact.js","widget/widget.js"]' in loader


def test_the_version_follows_the_served_files(tmp_path: Path) -> None:
    shutil.copytree(STATIC, tmp_path / "static")
    before = WidgetBuild(tmp_path / "static").version
    text = tmp_path / "static" / "widget" / "text.js"
    text.write_text(text.read_text() + "\n// a comment changes nothing served\n")
    assert WidgetBuild(tmp_path / "static").version == before
    text.write_text(text.read_text().replace("noopener noreferrer", "noopener"))
    assert WidgetBuild(tmp_path / "static").version != before


def test_a_module_that_cannot_be_joined_is_served_one_by_one(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    shutil.copytree(STATIC, tmp_path / "static")
    phone = tmp_path / "static" / "widget" / "phone.js"
    phone.write_text(phone.read_text() + "\nexport default isPhone;\n")
    with caplog.at_level(logging.WARNING, logger="rapport.widget"):
        build = WidgetBuild(tmp_path / "static")
    assert "one by one" in caplog.text and "export default" in caplog.text
    assert "widget/phone.js" in build.eager and "widget/ui.js" in build.eager
    assert 'from"./ui.js"' in build.files["widget/updates.js"].decode()


def test_modules_keep_their_own_names_and_their_order() -> None:
    sources = {
        "w/main.js": 'import { b } from "./b.js";\nimport { a } from "./a.js";\nconst x = 1;\nexport function go() {}',
        "w/a.js": 'const x = 2;\nexport const a = x;',
        "w/b.js": 'import { a as first } from "./a.js";\nconst x = 3;\nexport { x as b };',
        "w/later.js": 'import { a } from "./a.js";\nexport const c = a;',
    }
    with pytest.raises(Unbundleable, match="plain export lists"):
        bundle("w/main.js", sources, {"w/main.js", "w/a.js", "w/b.js"})
    sources["w/b.js"] = 'import { a as first } from "./a.js";\nconst x = 3;\nconst b = first + x;\nexport { b };'
    text, rewritten = bundle("w/main.js", sources, {"w/main.js", "w/a.js", "w/b.js"})
    # a before b (b imports it), each module's `x` in its own block, the entry's exports the module's.
    assert text == (
        "\nlet $$a,$$b,$$main;\n"
        "{\nconst x=2;const a=x;\n$$a={a};}\n"
        "{const{a:first}=$$a;\nconst x=3;const b=first+x;\n$$b={b};}\n"
        "{const{b}=$$b;const{a}=$$a;\nconst x=1;function go(){}\n$$main={go};}\n"
        "export const{go}=$$main;export{$$a,$$b,$$main};"
    )
    assert rewritten == {"w/later.js": 'import{$$a}from"./main.js";const{a}=$$a;\nconst c=a;\nexport{c};'}
