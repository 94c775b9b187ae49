"""The widget on shops' pages: its weight (30 KB gzipped at most, compressed, cached for long), no
socket, cookie or record for a visitor who never opens it, a hostile page's CSS and viewport (on
another origin, in German), keyboard use and an axe-core check of the open panel."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import msgspec
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.shop_site import ShopSite
from tests.browser.shopfront import shopper, shot, watch_errors
from tests.support.live import ProcessServer, test_settings

BUDGET = 30 * 1024
HERE = Path(__file__).resolve().parent


# Modules a served module imports: statically (`from"./x.js"`, `import"./x.js"`) and later (`import("./x.js")`).
STATIC_IMPORT = re.compile(r'\b(?:from|import)\s*"(\.\.?/[^"]+)"')
DYNAMIC_IMPORT = re.compile(r'\bimport\(\s*"(\.\.?/[^"]+)"\s*\)')


def test_the_whole_widget_is_small_compressed_and_cached(shop_server: ProcessServer) -> None:
    """The whole widget is the loader and every module it can load, found as a browser would (the
    loader's list, then each module's static and dynamic imports, not the server's word for it),
    each counted as served, gzipped; the first open is the part without the dynamic imports."""
    sizes: dict[str, int] = {}
    first_open: set[str] = set()
    with httpx.Client(base_url=shop_server.base, headers={"Accept-Encoding": "gzip"}) as http:
        loader = http.get("/widget/loader.js")
        assert loader.headers["content-encoding"] == "gzip"
        assert loader.headers["cache-control"] == "public, max-age=300"
        sizes["loader.js"] = int(loader.headers["content-length"])
        build = json.loads(re.search(r"/\*build\*/(.*?)/\*build\*/", loader.text).group(1))  # type: ignore[union-attr]
        base = f"/static/v/{build['version']}/"
        assert "widget/widget.js" in build["files"]
        todo = [(name, True) for name in build["files"]]
        while todo:
            name, eager = todo.pop()
            if eager:
                first_open.add(name)
            if name in sizes:
                continue
            r = http.get(base + name)
            assert r.status_code == 200, name
            assert r.headers["content-encoding"] == "gzip", name
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable", name
            assert r.headers["vary"] == "Accept-Encoding"
            assert r.headers["access-control-allow-origin"] == "*"
            again = http.get(base + name, headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304
            sizes[name] = int(r.headers["content-length"])
            here = posixpath.dirname(name)
            todo += [(posixpath.normpath(posixpath.join(here, m)), eager) for m in STATIC_IMPORT.findall(r.text)]
            todo += [(posixpath.normpath(posixpath.join(here, m)), False) for m in DYNAMIC_IMPORT.findall(r.text)]
        # The loader preloads everything a first open needs, so nothing waits for an import level.
        assert first_open == set(build["files"])
        assert {"widget/updates.js", "widget/orders.js", "widget/threads.js", "widget/rating.js"} <= set(sizes)
        assert not first_open & {"widget/updates.js", "widget/orders.js", "widget/threads.js", "widget/rating.js"}
        whole = sum(sizes.values())
        opened = sizes["loader.js"] + sum(sizes[name] for name in first_open)
        print(f"widget: {whole} bytes gzipped in {len(sizes)} files; the first open {opened} bytes")
        assert whole <= BUDGET, f"the widget weighs {whole} bytes gzipped (budget {BUDGET}): {sizes}"

        brotli = http.get(base + "widget/widget.js", headers={"Accept-Encoding": "br, gzip"})
        assert brotli.headers["content-encoding"] == "br"
        assert int(brotli.headers["content-length"]) < sizes["widget/widget.js"]
        plain = http.get(base + "widget/widget.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        stale = http.get("/static/v/000000000000/widget/widget.js")
        assert stale.headers["cache-control"] == "no-cache"  # another release's URL: served, not kept
        assert http.get(base + "widget/nope.js").status_code == 404


def test_a_visitor_who_never_opens_it_costs_nothing(browser: Browser, shop_server: ProcessServer) -> None:
    context = shopper(browser, "desktop")
    page = context.new_page()
    sockets: list[str] = []
    requests: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{shop_server.base}/")
    expect(page.get_by_test_id("rapport-launcher")).to_be_visible()
    page.wait_for_timeout(1500)
    assert sockets == []
    assert [u for u in requests if "/widget/" in u or "/static/" in u] == [f"{shop_server.base}/widget/loader.js"]
    assert context.cookies() == []
    assert page.evaluate("Object.keys(localStorage)") == []
    shot(page, "widget-closed-desktop")
    page.get_by_test_id("rapport-launcher").click()
    expect(page.get_by_test_id("rapport-status")).to_have_text("We're away \N{EN DASH} leave a message")
    assert len(sockets) == 1
    assert context.cookies() == []


class ForeignShop(NamedTuple):
    server: ProcessServer
    site: ShopSite


@pytest.fixture
def foreign_shop(tmp_path: Path) -> Iterator[ForeignShop]:
    """A chat server whose widget runs on another origin's pages (http://localhost:<port>)."""
    site = ShopSite()
    server = ProcessServer(msgspec.structs.replace(test_settings(tmp_path), allowed_origins=(site.origin,)))
    server.start()
    site.start(server.base)
    try:
        yield ForeignShop(server, site)
    finally:
        site.stop()
        server.stop()


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_hostile_page_keyboard_and_accessibility(browser: Browser, foreign_shop: ForeignShop, screen: str) -> None:
    errors: list[str] = []
    page = watch_errors(shopper(browser, screen).new_page(), errors)
    page.goto(foreign_shop.site.url("hostile"))
    launcher = page.get_by_test_id("rapport-launcher")
    expect(launcher).to_be_visible()
    box = launcher.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    assert 50 <= box["width"] <= 60 and box["x"] + box["width"] <= viewport["width"]  # its own size, in view
    launcher.click()  # nothing of the page's is over it
    panel = page.get_by_test_id("rapport-panel")
    expect(page.get_by_test_id("rapport-status")).to_have_text(
        "Gerade nicht besetzt \N{EN DASH} hinterlassen Sie eine Nachricht")
    size = panel.bounding_box()
    assert size is not None
    if screen == "phone":
        assert size["width"] == viewport["width"] and size["height"] >= viewport["height"] - 1
    else:
        assert 360 <= size["width"] <= 380
    font = page.evaluate("getComputedStyle(document.querySelector('rapport-widget').shadowRoot"
                         ".querySelector('[data-testid=rapport-status]')).fontSize")
    assert font == "12px"  # the page's `* { font-size: 31px !important }` does not reach in
    # Nothing of the page is painted over the panel (the page gives all its elements the top z-index).
    covered = page.evaluate("""(box) => {
        const points = [[0.5, 0.05], [0.05, 0.5], [0.95, 0.5], [0.5, 0.5], [0.5, 0.95]];
        return points.map(([x, y]) => document.elementFromPoint(box.x + box.width * x, box.y + box.height * y))
            .filter((hit) => hit.tagName !== "RAPPORT-WIDGET").map((hit) => hit.tagName);
    }""", size)
    assert covered == []
    shot(page, f"widget-hostile-{screen}")

    # Keyboard: focus stays in the panel, Escape closes it and goes back to the launcher.
    page.get_by_test_id("rapport-input").focus()
    for _ in range(12):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "RAPPORT-WIDGET"
        assert page.evaluate("!!document.querySelector('rapport-widget').shadowRoot.activeElement"
                             ".closest('[data-testid=rapport-panel]')")
    page.add_script_tag(path=str(HERE / "vendor" / "axe.min.js"))
    found = page.evaluate("""async () => {
        const result = await axe.run(document.querySelector('rapport-widget'), {resultTypes: ['violations']});
        return result.violations.filter(v => ['serious', 'critical'].includes(v.impact))
            .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
    }""")
    assert found == []
    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    focused = page.evaluate("document.querySelector('rapport-widget').shadowRoot.activeElement.dataset.testid")
    assert focused == "rapport-launcher"
    assert errors == []


# Where a widget element is, in CSS px of the layout viewport (as visualViewport's offsets are).
RECT = """(id) => {
    const r = document.querySelector('rapport-widget').shadowRoot.querySelector(`[data-testid=${id}]`)
        .getBoundingClientRect();
    const v = visualViewport;
    return {x: r.x, y: r.y, width: r.width, height: r.height,
            vx: v.offsetLeft, vy: v.offsetTop, vwidth: v.width, vheight: v.height, scale: v.scale};
}"""


@pytest.mark.parametrize("wide", [False, True])
def test_a_page_without_a_viewport_tag_on_a_phone(browser: Browser, foreign_shop: ForeignShop, wide: bool) -> None:
    """A phone shows such a page zoomed out (about 980 px, wider if its content is): the widget keeps its
    size on the screen, in the part shown, and opens full screen."""
    errors: list[str] = []
    page = watch_errors(shopper(browser, "phone").new_page(), errors)
    page.goto(foreign_shop.site.url("no-viewport"))
    if wide:  # content wider than the layout viewport: the phone zooms out further
        page.evaluate("document.querySelector('main').style.width = '1800px'")
    launcher = page.get_by_test_id("rapport-launcher")
    expect(launcher).to_be_visible()
    page.wait_for_function("visualViewport.scale < 0.5")
    at = page.evaluate(RECT, "rapport-launcher")
    on_screen = at["width"] * at["scale"]  # CSS px of the page times the zoom: the screen's px
    assert 50 <= on_screen <= 60, at
    # In the part shown, near its bottom right corner.
    assert at["x"] + at["width"] <= at["vx"] + at["vwidth"] and at["y"] + at["height"] <= at["vy"] + at["vheight"]
    assert (at["vx"] + at["vwidth"] - at["x"] - at["width"]) * at["scale"] < 40
    shot(page, f"widget-no-viewport{'-wide' if wide else ''}-closed")
    launcher.click()
    expect(page.get_by_test_id("rapport-status")).to_have_text("We're away \N{EN DASH} leave a message")
    panel = page.evaluate(RECT, "rapport-panel")
    for side, visible in (("x", "vx"), ("y", "vy"), ("width", "vwidth"), ("height", "vheight")):
        assert abs(panel[side] - panel[visible]) * panel["scale"] <= 2, (side, panel)  # full screen
    font = page.evaluate("""() => {
        const box = document.querySelector('rapport-widget').shadowRoot.querySelector('[data-testid=rapport-input]');
        return parseFloat(getComputedStyle(box).fontSize) * box.getBoundingClientRect().width / box.offsetWidth;
    }""")
    assert font * panel["scale"] >= 15.5  # 16 px on the screen: readable, and no zoom-in on focus
    shot(page, f"widget-no-viewport{'-wide' if wide else ''}-open")
    page.get_by_test_id("rapport-close").click()
    expect(launcher).to_be_visible()
    assert errors == []
