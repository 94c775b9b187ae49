"""The studio's segments and reports tabs in real headless Chromium against a real server process:
customers made through the shop's API, a marketer building a segment and watching its count, and
the support report over conversations held on the real sockets."""

from __future__ import annotations

import asyncio
import concurrent.futures
import csv
import datetime as dt
import re
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_agent_console import ShopBackEnd, Watch, console, shot
from tests.support.client import WsClient
from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, AGENT_PASSWORD, ProcessServer

T = TypeVar("T")
EVIL = "=cmd|' /C calc'!A0"


@pytest.fixture
def shop(shop_server: ProcessServer) -> Iterator[ShopBackEnd]:
    back_end = ShopBackEnd(shop_server)
    yield back_end
    back_end.close()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """An async helper run to its end on a thread of its own (Playwright's sync API holds this one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=60)


def days_ago(n: int) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=n)).isoformat()


def rule(page: Page, n: int) -> Any:
    return page.get_by_test_id("rule-row").nth(n)


def test_a_marketer_builds_a_segment_and_sees_who_matches_as_the_rules_change(
    browser: Browser, shop_server: ProcessServer, shop: ShopBackEnd
) -> None:
    watch = Watch()
    for external_id, fields in (
        ("u1", {"name": "Alma Gold", "email": "alma@shop.test", "tier": "gold", "loyalty_points": 1200,
                "last_order_at": days_ago(120), "attributes": {"shoe_size": 42}}),
        ("u2", {"name": "Bert Gold", "email": "bert@shop.test", "tier": "gold", "loyalty_points": 300,
                "last_order_at": days_ago(10), "attributes": {"shoe_size": 44}}),
        ("u3", {"name": "Cleo Silver", "email": "cleo@shop.test", "tier": "silver", "loyalty_points": 800,
                "last_order_at": days_ago(200)}),
        ("u4", {"name": "Dan Bronze", "email": "dan@shop.test", "tier": "bronze", "loyalty_points": 5}),
    ):
        shop.call("PUT", f"/api/v1/customers/{external_id}", 200, json=fields)
    shop.as_admin("POST", "/api/v1/accounts", 201, json={"email": "mia@shop.test", "name": "Mia",
                                                         "password": AGENT_PASSWORD, "role": "marketer"})
    mia = console(browser, watch, shop_server, "mia@shop.test", AGENT_PASSWORD, "mia")
    mia.get_by_test_id("studio-tab-segments").click()
    # The built-in lapsed customers: no order for 90 days (Alma and Cleo).
    lapsed = mia.get_by_test_id("segment-row-lapsed")
    expect(lapsed).to_contain_text("Lapsed customers")
    expect(lapsed.locator("td.n")).to_have_text("2")

    mia.get_by_test_id("segment-new").click()
    expect(mia).to_have_url(re.compile(r"#/studio/segments/new$"))
    mia.get_by_test_id("segment-name").fill("Gold, gone quiet")
    count = mia.get_by_test_id("segment-count")
    expect(count).to_have_text("Add a rule to see who matches.")
    mia.get_by_test_id("add-rule").click()
    # The fields come from the server, the shop's custom attributes among them.
    fields = rule(mia, 0).get_by_test_id("rule-field")
    expect(fields.locator('optgroup[label="Custom attributes"] option[value="attributes.shoe_size"]')).to_have_count(1)
    expect(fields.locator('optgroup[label="What Rapport sees"] option[value="pages_viewed"]')).to_have_count(1)
    fields.select_option("tier")
    rule(mia, 0).get_by_test_id("rule-op").select_option("eq")
    rule(mia, 0).get_by_test_id("rule-value").fill("gold")
    expect(count).to_have_text("2 customers match")
    expect(mia.get_by_test_id("sample-row")).to_have_count(2)

    mia.get_by_test_id("add-rule").click()
    rule(mia, 1).get_by_test_id("rule-field").select_option("last_order_at")
    rule(mia, 1).get_by_test_id("rule-op").select_option("days_since_gt")
    rule(mia, 1).get_by_test_id("rule-value").fill("90")
    expect(count).to_have_text("1 customer matches")
    sample = mia.get_by_test_id("sample-row")
    expect(sample).to_have_count(1)
    expect(sample.first).to_contain_text("Alma Gold")
    expect(sample.first).to_contain_text("alma@shop.test")
    expect(sample.first).to_contain_text("1,200")
    # Any instead of all: gold or lapsed is Alma, Bert and Cleo.
    mia.get_by_test_id("segment-match").select_option("any")
    expect(count).to_have_text("3 customers match")
    mia.get_by_test_id("segment-match").select_option("all")
    expect(count).to_have_text("1 customer matches")
    # A custom attribute, compared as a number.
    mia.get_by_test_id("add-rule").click()
    rule(mia, 2).get_by_test_id("rule-field").select_option("attributes.shoe_size")
    rule(mia, 2).get_by_test_id("rule-op").select_option("gte")
    rule(mia, 2).get_by_test_id("rule-value").fill("43")
    expect(count).to_have_text("0 customers match")
    rule(mia, 2).get_by_role("button", name="Remove this rule").click()
    expect(count).to_have_text("1 customer matches")
    shot(mia, "studio-segment-builder")

    mia.get_by_test_id("segment-save").click()
    expect(mia).to_have_url(re.compile(r"#/studio/segments/sg_"))
    expect(mia.get_by_test_id("segment-editor").locator("h1")).to_have_text("Gold, gone quiet")
    expect(mia.get_by_test_id("segment-saved")).to_have_text("Saved: 1 customer now.")
    expect(mia.get_by_test_id("sample-row")).to_have_count(1)
    [saved] = shop.call("GET", "/api/v1/segments", 200)["segments"]
    assert saved["name"] == "Gold, gone quiet" and saved["members"] == 1
    assert saved["rules"] == {"all": [{"field": "tier", "op": "eq", "value": "gold"},
                                      {"field": "last_order_at", "op": "days_since_gt", "value": 90}]}
    # The list shows it with its count; the phone gets the same builder, one rule per card.
    mia.get_by_text("← Segments").click()
    row = mia.get_by_test_id("segment-row")
    expect(row).to_contain_text("Gold, gone quiet")
    expect(row.get_by_test_id("segment-rules")).to_have_text("Tier is gold · Last order more than 90 days ago")
    expect(row.locator("td.n")).to_have_text("1")
    shot(mia, "studio-segments-list")
    # The built-in lapsed customers opens in the builder, its rule loaded and counted.
    lapsed.get_by_role("link").click()
    expect(rule(mia, 0).get_by_test_id("rule-field")).to_have_value("last_order_at")
    expect(rule(mia, 0).get_by_test_id("rule-value")).to_have_value("90")
    expect(mia.get_by_test_id("segment-count")).to_have_text("2 customers match")
    expect(mia.get_by_test_id("sample-row")).to_have_text([re.compile("Alma Gold"), re.compile("Cleo Silver")])
    mia.get_by_text("← Segments").click()
    mia.set_viewport_size({"width": 375, "height": 812})
    row.get_by_role("link").click()
    expect(mia.get_by_test_id("segment-count")).to_have_text("1 customer matches")
    shot(mia, "studio-segment-builder-phone")
    overflow = mia.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, overflow
    # Edit: any tier instead of gold only (Alma and Cleo, both lapsed), saved; then deleted.
    rule(mia, 0).get_by_role("button", name="Remove this rule").click()
    expect(mia.get_by_test_id("segment-count")).to_have_text("2 customers match")
    mia.get_by_test_id("segment-save").click()
    expect(mia.get_by_test_id("segment-saved")).to_have_text("Saved: 2 customers now.")
    mia.get_by_text("← Segments").click()
    expect(row.locator("td.n")).to_have_text("2")
    expect(row.get_by_test_id("segment-rules")).to_have_text("Last order more than 90 days ago")
    row.get_by_role("link").click()
    mia.once("dialog", lambda dialog: dialog.accept())
    mia.get_by_test_id("segment-delete").click()
    expect(mia).to_have_url(re.compile(r"#/studio/segments$"))
    expect(mia.get_by_test_id("segment-row")).to_have_count(0)
    assert shop.call("GET", "/api/v1/segments", 200)["segments"] == []
    assert watch.errors == []


async def hold_conversations(server: ProcessServer) -> None:
    """Three chats on the real sockets: two answered by Ann (rated 5 and 4, one closed), one by
    the agent whose name looks like a formula, and one nobody answered."""
    ann = await server.agent("ann@shop.test", AGENT_PASSWORD)
    eve = await server.agent("eve@shop.test", AGENT_PASSWORD)

    async def act(client: WsClient, **frame: Any) -> dict[str, Any]:
        frame["client_id"] = uuid.uuid4().hex
        await client.send(**frame)
        done = await client.wait_for(
            lambda f: f.get("client_id") == frame["client_id"] and f["type"] in ("ack", "error"))
        assert done["type"] == "ack", done
        return done

    for agent, rating in ((ann, 5), (ann, 4), (eve, None), (None, None)):
        shopper = await server.customer()
        conversation = (await shopper.send_message("Do you ship to Norway?"))["conversation_id"]
        if agent is not None:
            await act(agent, type="conversation.take", conversation_id=conversation)
            await act(agent, type="message.send", conversation_id=conversation, text="Yes, in 3 days")
            if rating is not None:
                await act(agent, type="conversation.close", conversation_id=conversation)
                await act(shopper, type="conversation.rate", conversation_id=conversation, score=rating)
        await shopper.close()
    await ann.close()
    await eve.close()


def test_the_support_report_shows_the_team_and_each_agent_and_exports_csv(
    browser: Browser, shop_server: ProcessServer, shop: ShopBackEnd, tmp_path: Path
) -> None:
    watch = Watch()
    for email, name in (("ann@shop.test", "Ann"), ("eve@shop.test", EVIL)):
        shop.as_admin("POST", "/api/v1/accounts", 201, json={"email": email, "name": name,
                                                             "password": AGENT_PASSWORD, "role": "agent"})
    run(hold_conversations(shop_server))
    admin = console(browser, watch, shop_server, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    admin.goto(f"{shop_server.base}/console#/studio/reports")
    expect(admin.get_by_test_id("report-conversations").locator(".value")).to_have_text("4")
    expect(admin.get_by_test_id("report-conversations")).to_contain_text("3 answered · 2 resolved")
    expect(admin.get_by_test_id("report-satisfaction").locator(".value")).to_have_text("4.5 / 5")
    expect(admin.get_by_test_id("report-satisfaction")).to_contain_text("2 ratings")
    expect(admin.get_by_test_id("report-first-response").locator(".value")).to_have_text(re.compile(r"^(< 1|\d+) s$"))
    expect(admin.get_by_test_id("report-chart").locator("canvas")).to_have_count(1)
    expect(admin.get_by_test_id("report-chart")).to_have_attribute(
        "aria-label", re.compile(r"^Conversations per day: 4 over 30 days"))
    expect(admin.get_by_test_id("report-response-chart")).to_have_attribute(
        "aria-label", re.compile(r"1 of 30 days with answers$"))
    agents = admin.get_by_test_id("report-agent-row")
    expect(agents).to_have_count(2)
    expect(agents.nth(0)).to_contain_text(EVIL)  # shown as text, sorted by name
    expect(agents.nth(1).locator("td").nth(0)).to_have_text("Ann")
    expect(agents.nth(1).locator("td").nth(1)).to_have_text("2")
    expect(agents.nth(1).locator("td").nth(6)).to_contain_text("4.5 / 5")
    dist = admin.get_by_test_id("satisfaction-distribution").locator("td.n")
    expect(dist).to_have_text(["1", "1", "0", "0", "0"])
    shot(admin, "studio-report")

    with admin.expect_download() as download:
        admin.get_by_test_id("report-csv").click()
    saved = tmp_path / "report.csv"
    download.value.save_as(saved)
    lines = list(csv.reader(saved.read_text(encoding="utf-8").splitlines()))
    assert lines[0][:3] == ["scope", "agent", "conversations"]
    assert [line[1] for line in lines[1:]] == ["'" + EVIL, "Ann", ""]
    assert lines[-1][:3] == ["team", "", "4"]

    # A shorter period with nothing in it (the 7-day preset still has today's chats).
    admin.get_by_role("button", name="7 days").click()
    expect(admin).to_have_url(re.compile(r"#/studio/reports\?start=\d{4}-\d\d-\d\d&end="))
    expect(admin.get_by_test_id("report-chart")).to_have_attribute("aria-label", re.compile("over 7 days"))
    admin.set_viewport_size({"width": 375, "height": 812})
    expect(admin.get_by_test_id("report-conversations").locator(".value")).to_have_text("4")
    shot(admin, "studio-report-phone")
    # The tab fits the phone (the per-agent table scrolls inside its own box).
    overflow = admin.get_by_test_id("studio-reports").evaluate("e => e.scrollWidth - e.clientWidth")
    assert overflow <= 0, overflow

    # An agent has no studio: the API refuses them.
    ann = console(browser, watch, shop_server, "ann@shop.test", AGENT_PASSWORD, "ann")
    expect(ann.get_by_test_id("nav-studio")).to_have_count(0)
    status = ann.evaluate("fetch('/api/v1/reports/support').then(r => r.status)")
    assert status == 403
    assert ann.evaluate("fetch('/api/v1/segments/attributes').then(r => r.status)") == 403
    assert watch.errors == []
