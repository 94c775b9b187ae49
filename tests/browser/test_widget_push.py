"""A logged-in customer's pushes in the widget: an offer as a card over the closed launcher (its
voucher code once, copied in one tap, its open and click counted), order updates listed with their
latest status, a survey push answered once, and the "no offers, thanks" switch the server honours."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.shopfront import Admin, log_in_as, shopper, shot, watch_errors
from tests.support.live import ProcessServer


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_offer_card_orders_survey_and_no_offers(browser: Browser, shop_server: ProcessServer, screen: str) -> None:
    errors: list[str] = []
    admin = Admin(shop_server)
    admin.call("PUT", "/api/v1/customers/u1", json={"name": "Ann Lee", "marketing_consent": True})
    context = shopper(browser, screen, permissions=["clipboard-read", "clipboard-write"])
    page = watch_errors(context.new_page(), errors)
    log_in_as(page, "u1")
    page.goto(f"{shop_server.base}/")
    expect(page.get_by_test_id("rapport-live")).to_be_attached()  # loaded at once for a logged-in customer

    offer = admin.campaign(kind="offer", title="{{ voucher.amount }}% off for you, {{ customer.first_name }}",
                           body="Use {{ voucher.code }} at checkout.", url="https://shop.example/sale",
                           voucher={"kind": "percent", "amount": 15, "valid_days": 7})
    card = page.get_by_test_id("rapport-card")
    expect(card).to_contain_text("15% off for you, Ann")
    code = card.get_by_test_id("rapport-voucher").locator("span").first.inner_text()
    assert card.inner_text().count(code) == 1  # the template names it: shown once, as the chip
    card.get_by_test_id("rapport-copy").click()
    expect(card.get_by_test_id("rapport-copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == code
    shot(page, f"widget-offer-card-{screen}")

    # An order update arrives meanwhile: queued behind the offer, shown once that one is dismissed.
    for order, status in (("O-1", "paid"), ("O-2", "paid"), ("O-1", "shipped")):
        admin.call("POST", "/api/v1/orders/events", 201,
                   json={"customer_id": "u1", "order_id": order, "status": status, "text": f"Your order is {status}",
                         "url": f"https://shop.example/orders/{order}"})
    expect(card).to_have_count(1)
    card.get_by_test_id("rapport-card-dismiss").click()
    expect(card).to_have_attribute("data-kind", "order")
    card.get_by_test_id("rapport-card-open").click()
    expect(page.get_by_test_id("rapport-updates")).to_be_visible()
    counted = (0, 0, 0, 0)
    for _ in range(50):  # tracking frames are paced (a replayed inbox must not trip the rate limit)
        stats = admin.call("GET", f"/api/v1/campaigns/{offer['id']}/stats")
        counted = (stats["delivered"], stats["opened"], stats["clicked"], stats["dismissed"])
        if counted == (1, 1, 1, 1):
            break
        page.wait_for_timeout(100)
    assert counted == (1, 1, 1, 1)

    page.get_by_test_id("rapport-tab-orders").click()
    orders = page.get_by_test_id("rapport-order")
    expect(orders).to_have_count(2)
    expect(orders.first).to_have_attribute("data-order", "O-1")
    expect(orders.first.get_by_test_id("rapport-order-status")).to_have_text("shipped")
    admin.call("POST", "/api/v1/orders/events", 201,
               json={"customer_id": "u1", "order_id": "O-2", "status": "delivered", "text": "Delivered today"})
    expect(orders.first).to_have_attribute("data-order", "O-2")  # moved up live
    expect(orders.first.get_by_test_id("rapport-order-status")).to_have_text("delivered")
    shot(page, f"widget-orders-{screen}")

    survey = admin.campaign(kind="survey", title="Two quick questions", body="How was your last order?", survey={
        "questions": [{"id": "fit", "kind": "scale", "label": "How well did it fit?", "min": 1, "max": 5},
                      {"id": "again", "kind": "choice", "label": "Would you buy again?", "choices": ["Yes", "No"]},
                      {"id": "why", "kind": "text", "label": "Anything else?"}]})
    page.get_by_test_id("rapport-tab-updates").click()
    form = page.get_by_test_id("rapport-survey-push")
    form.get_by_test_id("rapport-q-fit").get_by_role("button", name="4").click()
    form.get_by_test_id("rapport-q-again").get_by_role("button", name="Yes").click()
    form.get_by_test_id("rapport-q-why").fill("<b>Great</b> socks")
    shot(page, f"widget-survey-push-{screen}")
    form.get_by_test_id("rapport-survey-send").click()
    expect(page.get_by_test_id("rapport-survey-done")).to_be_visible()
    answers = admin.call("GET", f"/api/v1/campaigns/{survey['id']}/answers")
    assert answers["answered"] == 1
    assert answers["answers"][0]["answers"] == {"fit": 4, "again": "Yes", "why": "<b>Great</b> socks"}

    # The same customer on another device answers again: refused, still one set.
    other = watch_errors(shopper(browser, "desktop").new_page(), errors)
    log_in_as(other, "u1")
    other.goto(f"{shop_server.base}/")
    other.get_by_test_id("rapport-launcher").click()
    other.get_by_test_id("rapport-tab-updates").click()
    again = other.get_by_test_id("rapport-survey-push")
    again.get_by_test_id("rapport-q-fit").get_by_role("button", name="1").click()
    again.get_by_test_id("rapport-survey-send").click()
    expect(again.get_by_role("alert")).to_contain_text("already")
    assert admin.call("GET", f"/api/v1/campaigns/{survey['id']}/answers")["answered"] == 1

    consent = page.get_by_test_id("rapport-consent")
    expect(consent).to_be_checked()
    consent.uncheck()
    expect(consent).not_to_be_checked()
    for _ in range(50):
        if not admin.call("GET", "/api/v1/customers/u1")["marketing_consent"]:
            break
        page.wait_for_timeout(100)
    assert admin.call("GET", "/api/v1/customers/u1")["marketing_consent"] is False
    admin.campaign(kind="news", title="Autumn news", body="New colours")
    page.wait_for_timeout(700)
    expect(page.get_by_test_id("rapport-update").filter(has_text="Autumn news")).to_have_count(0)
    shot(page, f"widget-updates-{screen}")
    admin.close()
    assert errors == []
