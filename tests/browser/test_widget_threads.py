"""Threads: a visitor who logs in keeps the chat they started; after the agent closes it they rate it
(score and comment, visible through the agent's API); on a second device the same customer finds it
in their history, reads it back and starts a new one."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.shopfront import Admin, Agent, log_in_as, shopper, shot, watch_errors
from tests.support.live import ProcessServer
from tests.support.shop import customer_token


def test_rate_after_close_and_find_it_on_another_device(browser: Browser, shop_server: ProcessServer) -> None:
    errors: list[str] = []
    admin = Admin(shop_server)
    agent = Agent(shop_server, admin.cookie)
    page = watch_errors(shopper(browser, "desktop").new_page(), errors)
    page.goto(f"{shop_server.base}/")
    page.get_by_test_id("rapport-launcher").click()
    page.get_by_test_id("rapport-input").fill("Where is my parcel?")
    page.get_by_test_id("rapport-send").click()
    conversation = agent.waiting()
    agent.act(type="conversation.take", conversation_id=conversation)
    agent.say(conversation, "Let me look: log in, please.")
    expect(page.get_by_test_id("rapport-message")).to_have_count(2)

    # The anonymous visitor logs in on the shop: the page calls setUser; the chat stays theirs.
    page.evaluate(f"Rapport('setUser', {{user_id: 'u9', token: '{customer_token('u9')}'}})")
    expect(page.get_by_test_id("rapport-tab-orders")).to_be_visible()
    expect(page.get_by_test_id("rapport-message")).to_have_count(2)
    agent.say(conversation, "It arrives tomorrow.")
    agent.act(type="conversation.close", conversation_id=conversation)
    survey = page.get_by_test_id("rapport-survey")
    survey.get_by_test_id("rapport-score-4").click()
    survey.get_by_test_id("rapport-comment").fill("Quick <i>and</i> kind")
    shot(page, "widget-survey-after-close-desktop")
    survey.get_by_test_id("rapport-rate-send").click()
    expect(page.get_by_test_id("rapport-messages")).to_contain_text("Thank you for your feedback")
    summary = None
    for _ in range(50):
        summary = admin.call("GET", f"/api/v1/conversations/{conversation}/events")["conversation"]
        if summary.get("rating"):
            break
        page.wait_for_timeout(100)
    assert summary is not None and (summary["rating"], summary["rating_comment"]) == (4, "Quick <i>and</i> kind")

    # Another device, the same customer: the history holds it, read back in full.
    phone = watch_errors(shopper(browser, "phone").new_page(), errors)
    log_in_as(phone, "u9")
    phone.goto(f"{shop_server.base}/")
    phone.get_by_test_id("rapport-launcher").click()
    phone.get_by_test_id("rapport-tab-threads").click()
    thread = phone.get_by_test_id("rapport-thread")
    expect(thread).to_have_count(1)
    expect(thread).to_contain_text("Closed")
    shot(phone, "widget-history-phone")
    thread.click()
    messages = phone.get_by_test_id("rapport-message")
    expect(messages).to_have_count(3)
    expect(messages.first).to_contain_text("Where is my parcel?")
    expect(phone.get_by_test_id("rapport-input")).to_have_count(0)  # read back, not written into
    shot(phone, "widget-history-read-phone")
    phone.get_by_test_id("rapport-new").click()
    phone.get_by_test_id("rapport-input").fill("One more question")
    phone.get_by_test_id("rapport-send").click()
    sent = phone.get_by_test_id("rapport-message").filter(has_text="One more question")
    expect(sent).not_to_have_class("msg pending")
    phone.get_by_test_id("rapport-tab-threads").click()
    expect(phone.get_by_test_id("rapport-thread")).to_have_count(2)
    agent.close()
    admin.close()
    assert errors == []
