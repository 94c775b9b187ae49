"""A person chats end to end: the shopper through the widget on the demo shop, the agent in the console."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import SCREENSHOTS
from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, ProcessServer


def test_shopper_and_agent_chat_through_widget_and_console(browser: Browser, shop_server: ProcessServer) -> None:
    errors: list[str] = []
    agent_page = browser.new_context(viewport={"width": 1200, "height": 760}).new_page()
    agent_page.on("pageerror", lambda e: errors.append(f"console: {e}"))
    agent_page.goto(f"{shop_server.base}/console")
    agent_page.get_by_test_id("login-email").fill(ADMIN_EMAIL)
    agent_page.get_by_test_id("login-password").fill(ADMIN_PASSWORD)
    agent_page.get_by_test_id("login-submit").click()
    expect(agent_page.get_by_test_id("presence-select")).to_be_visible()

    shop_page = browser.new_context(viewport={"width": 1100, "height": 760}).new_page()
    shop_page.on("pageerror", lambda e: errors.append(f"widget: {e}"))
    shop_page.goto(f"{shop_server.base}/")
    shop_page.get_by_test_id("rapport-launcher").click()
    expect(shop_page.get_by_test_id("rapport-status")).to_have_text("We're online")
    shop_page.get_by_test_id("rapport-input").fill("Hi! Do the trail shoes run small? <b>size 42</b>")
    shop_page.get_by_test_id("rapport-send").click()
    sent = shop_page.get_by_test_id("rapport-message").filter(has_text="trail shoes")
    expect(sent).to_have_attribute("data-author", "customer")
    expect(sent).not_to_have_class("msg customer pending")

    # The waiting chat appears live in the console; the agent takes it and answers.
    agent_page.get_by_test_id("view-waiting").click()
    queued = agent_page.get_by_test_id("conversation-row")
    expect(queued).to_have_count(1)
    expect(queued).to_contain_text("trail shoes")
    queued.get_by_test_id("take").click()
    expect(agent_page.get_by_test_id("count-mine")).to_have_text("1")
    expect(agent_page.get_by_test_id("count-waiting")).to_have_text("0")
    incoming = agent_page.get_by_test_id("transcript-message").filter(has_text="trail shoes")
    expect(incoming).to_have_attribute("data-author", "customer")
    # Customer text is shown as text, never as HTML.
    expect(incoming).to_contain_text("<b>size 42</b>")

    agent_page.get_by_test_id("composer-tab-note").click()
    agent_page.get_by_test_id("composer-input").fill("Returning customer, offer free exchange")
    agent_page.get_by_test_id("composer-send").click()
    expect(agent_page.get_by_test_id("transcript-note")).to_contain_text("free exchange")
    expect(agent_page.get_by_test_id("composer")).to_have_attribute("data-mode", "reply")
    agent_page.get_by_test_id("composer-input").fill("They run half a size small: take a 42.5. Free exchanges!")
    agent_page.get_by_test_id("composer-send").click()

    reply = shop_page.get_by_test_id("rapport-message").filter(has_text="half a size small")
    expect(reply).to_have_attribute("data-author", "agent")
    expect(shop_page.get_by_test_id("rapport-messages")).not_to_contain_text("free exchange")  # the note stays private

    # A reload keeps the conversation (visitor token and cursors in the page's storage).
    shop_page.reload()
    shop_page.get_by_test_id("rapport-launcher").click()
    expect(shop_page.get_by_test_id("rapport-message")).to_have_count(2)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shop_page.screenshot(path=str(SCREENSHOTS / "widget.png"))
    agent_page.screenshot(path=str(SCREENSHOTS / "console.png"))
    assert errors == []
