"""The studio's vouchers tab in real Chromium against a real server: a marketer creates a voucher
pool (a refusal shown beside its field first), issues it to a segment of the shop's customers and
sees issued go up; the member's widget shows the code; the shop redeems it over its API and the
marketer sees redeemed go up; the codes export as CSV; the same screens on a 375 px phone."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.shopfront import Admin, log_in_as, shopper, shot, watch_errors
from tests.support.live import AGENT_PASSWORD, ProcessServer


def marketer_console(browser: Browser, server: ProcessServer, errors: list[str], width: int, height: int,
                     **extra: object) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, **extra)  # type: ignore[arg-type]
    page = watch_errors(context.new_page(), errors)
    page.goto(f"{server.base}/console")
    page.get_by_test_id("login-email").fill("mia@shop.test")
    page.get_by_test_id("login-password").fill(AGENT_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("studio-screen")).to_be_visible()
    return page


def test_a_marketer_issues_a_pool_to_a_segment_and_sees_it_redeemed(browser: Browser,
                                                                    shop_server: ProcessServer) -> None:
    errors: list[str] = []
    admin = Admin(shop_server)
    admin.call("POST", "/api/v1/accounts", 201, json={"email": "mia@shop.test", "name": "Mia",
                                                       "password": AGENT_PASSWORD, "role": "marketer"})
    key = admin.call("POST", "/api/v1/api-keys", 201, json={"name": "checkout", "scopes": ["vouchers"]})["token"]
    for external_id, name, tier in (("gold-1", "Ann Gold", "gold"), ("gold-2", "Ben Gold", "gold"),
                                    ("silver-1", "Cy Silver", "silver")):
        admin.call("PUT", f"/api/v1/customers/{external_id}",
                   json={"name": name, "tier": tier, "marketing_consent": True})
    admin.call("POST", "/api/v1/segments", 201,
               json={"name": "Gold members", "rules": {"field": "tier", "op": "eq", "value": "gold"}})

    # Ann is on the shop's site, logged in: her code will reach her widget.
    ann = watch_errors(shopper(browser, "desktop").new_page(), errors)
    log_in_as(ann, "gold-1")
    ann.goto(f"{shop_server.base}/")
    expect(ann.get_by_test_id("rapport-live")).to_be_attached()

    mia = marketer_console(browser, shop_server, errors, 1280, 860)
    mia.get_by_test_id("studio-tab-vouchers").click()
    expect(mia).to_have_url(re.compile(r"#/studio/vouchers$"))
    expect(mia.get_by_test_id("pools-empty")).to_be_visible()

    # An amount without its currency: the API's refusal, beside the currency field.
    form = mia.get_by_test_id("pool-create")
    form.get_by_label("Name").fill("Gold 15")
    form.get_by_label("Value").select_option("amount")
    form.get_by_label("Amount", exact=True).fill("5")
    form.get_by_label("Currency").fill("")
    form.get_by_role("button", name="Create pool").click()
    expect(form.get_by_test_id("pool-error-currency")).to_contain_text("an amount needs its currency")
    expect(form.get_by_label("Currency")).to_have_attribute("aria-invalid", "true")
    shot(mia, "studio-vouchers-create-refused")

    form.get_by_label("Value").select_option("percent")
    form.get_by_label("Percent", exact=True).fill("15")
    expiry = dt.date.today() + dt.timedelta(days=30)
    form.get_by_label("Expires on").fill(expiry.isoformat())
    form.get_by_role("button", name="Create pool").click()
    page = mia.get_by_test_id("pool-page")
    expect(page.get_by_role("heading", name="Gold 15")).to_be_visible()
    expect(page.get_by_test_id("count-issued")).to_have_text("0")
    pool_id = mia.url.rsplit("/", 1)[-1]

    issue = page.get_by_test_id("pool-issue")
    expect(issue.get_by_label("Segment")).to_contain_text("Gold members (2 members)")
    issue.get_by_role("button", name="Issue codes").click()
    expect(page.get_by_test_id("count-issued")).to_have_text("2")
    expect(page.get_by_test_id("pool-issues")).to_contain_text("2 issued of 2 members")
    rows = page.get_by_test_id("code-row")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("codes")).to_contain_text("Ann Gold")
    expect(page.get_by_test_id("codes")).not_to_contain_text("Cy Silver")

    # Ann's widget shows her code; the shop's checkout redeems it over the API.
    card = ann.get_by_test_id("rapport-card")
    expect(card).to_contain_text("A voucher for you: 15% off")
    code = card.get_by_test_id("rapport-voucher").locator("span").first.inner_text()
    held = admin.call("GET", "/api/v1/customers/gold-1/vouchers")["vouchers"]
    assert [v["code"] for v in held if v["pool_id"] == pool_id] == [code]
    redeemed = admin.http.post(f"/api/v1/vouchers/{code}/redeem", json={"order_id": "O-1001"},
                               headers={"Authorization": f"Bearer {key}"})
    assert redeemed.status_code == 200, redeemed.text
    expect(page.get_by_test_id("count-redeemed")).to_have_text("1", timeout=10_000)
    row = mia.locator(f'[data-testid="code-row"][data-code="{code}"]')
    expect(row).to_contain_text("redeemed")
    expect(row).to_contain_text("O-1001")
    shot(mia, "studio-vouchers-pool-desktop")

    # The codes as CSV, through the one CSV writer.
    with mia.expect_download() as download:
        page.get_by_test_id("codes-export").click()
    with open(download.value.path(), encoding="utf-8") as exported:
        lines = exported.read().splitlines()
    assert lines[0].startswith("code,status,customer,customer_name")
    assert len(lines) == 3 and any(line.startswith(f"{code},redeemed,gold-1,Ann Gold") for line in lines)

    page.get_by_role("link", name="← All pools").click()
    pool_row = mia.locator('[data-testid="pool-row"][data-name="Gold 15"]')
    expect(pool_row.get_by_test_id("pool-issued")).to_have_text("2")
    expect(pool_row.get_by_test_id("pool-redeemed")).to_have_text("1")
    shot(mia, "studio-vouchers-list-desktop")

    # A pool of the shop's own codes: pasted (a repeat refused and named), then from a file.
    form.get_by_label("Name").fill("Partner codes")
    form.get_by_label("Value").select_option("amount")
    form.get_by_label("Amount", exact=True).fill("5")
    form.get_by_label("Currency").fill("EUR")
    form.get_by_label("Codes", exact=True).select_option("imported")
    form.get_by_role("button", name="Create pool").click()
    expect(page.get_by_role("heading", name="Partner codes")).to_be_visible()
    expect(page.get_by_test_id("count-available")).to_have_text("0")
    imports = page.get_by_test_id("pool-import")
    imports.get_by_label("Codes, one per line").fill("shop-0001\nSHOP-0002\nSHOP-0001\n")
    imports.get_by_role("button", name="Import").click()
    expect(imports.get_by_test_id("import-result")).to_have_text("Imported 2 codes.")
    expect(imports.get_by_test_id("import-duplicates")).to_have_text("Refused as duplicates: SHOP-0001")
    imports.get_by_label("…or a file").set_input_files(
        files=[{"name": "codes.csv", "mimeType": "text/csv", "buffer": b"code,batch\nFILE-0001,a\nFILE-0002,a\n"}])
    expect(imports.get_by_label("Codes, one per line")).to_have_value("FILE-0001\nFILE-0002\n")
    imports.get_by_role("button", name="Import").click()
    expect(imports.get_by_test_id("import-duplicates")).to_have_count(0)
    expect(page.get_by_test_id("count-available")).to_have_text("4")
    expect(page.get_by_test_id("code-row")).to_have_count(4)
    expect(page.get_by_test_id("codes")).to_contain_text("not issued")
    shot(mia, "studio-vouchers-imported-desktop")

    phone = marketer_console(browser, shop_server, errors, 375, 812, is_mobile=True, has_touch=True)
    phone.goto(f"{shop_server.base}/console#/studio/vouchers")
    expect(phone.locator('[data-testid="pool-row"][data-name="Gold 15"]')).to_be_visible()
    shot(phone, "studio-vouchers-list-phone")
    phone.goto(f"{shop_server.base}/console#/studio/vouchers/{pool_id}")
    expect(phone.get_by_test_id("count-redeemed")).to_have_text("1")
    expect(phone.get_by_test_id("code-row")).to_have_count(2)
    shot(phone, "studio-vouchers-pool-phone")
    phone.get_by_test_id("code-row").first.scroll_into_view_if_needed()
    shot(phone, "studio-vouchers-codes-phone")
    admin.close()
    # Expected: the session check of each console before its login, and the refused pool.
    expected = re.compile(r"^(401 .*/api/v1/session|422 .*/api/v1/voucher-pools)$")
    assert [e for e in errors if not expected.match(e)] == []
    assert len([e for e in errors if e.startswith("422")]) == 1
