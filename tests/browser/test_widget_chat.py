"""A shopper chats with an agent through the widget on a desktop and on a phone: both ways, across
a reload (the badge counts only what they have not seen) and across a lost network (nothing lost,
nothing doubled); when nobody is online they leave their e-mail with the message."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.shopfront import Admin, Agent, shopper, shot, watch_errors
from tests.support.live import ProcessServer

XSS = '<img src=x onerror="window.__owned=1"><script>window.__owned=1</script>'


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_chat_both_ways_reload_badge_and_a_lost_network(
    browser: Browser, shop_server: ProcessServer, screen: str,
) -> None:
    errors: list[str] = []
    admin = Admin(shop_server)
    agent = Agent(shop_server, admin.cookie)
    context = shopper(browser, screen)
    page = watch_errors(context.new_page(), errors)
    page.goto(f"{shop_server.base}/")
    page.get_by_test_id("rapport-launcher").click()
    expect(page.get_by_test_id("rapport-status")).to_have_text("We're online")
    if screen == "phone":  # full screen, the page behind it locked
        box = page.get_by_test_id("rapport-panel").bounding_box()
        assert box is not None and box["width"] == 375 and box["height"] >= 800
        assert page.evaluate("getComputedStyle(document.documentElement).overflow") == "hidden"
    page.get_by_test_id("rapport-input").fill(f"Do the trail shoes run small? {XSS}")
    page.get_by_test_id("rapport-input").press("Enter")
    mine = page.get_by_test_id("rapport-message").filter(has_text="trail shoes")
    expect(mine).to_have_attribute("data-author", "customer")
    expect(mine).to_contain_text(XSS)  # shown as text, never as HTML

    conversation = agent.waiting()
    agent.act(type="conversation.take", conversation_id=conversation)
    agent.say(conversation, f"Half a size small: see https://shop.example/sizes {XSS}")
    reply = page.get_by_test_id("rapport-message").filter(has_text="Half a size small")
    expect(reply).to_have_attribute("data-author", "agent")
    expect(reply).to_contain_text("Admin")  # the agent's name over their message
    expect(reply.locator("time")).to_have_count(1)
    link = reply.get_by_role("link")
    expect(link).to_have_attribute("href", "https://shop.example/sizes")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(page.get_by_test_id("rapport-messages")).to_contain_text("Today")
    shot(page, f"widget-chat-{screen}")

    # Closed: what arrives now is unread, and stays unread across a reload until seen.
    page.get_by_test_id("rapport-close").click()
    agent.say(conversation, "Anything else?")
    agent.say(conversation, "We also have them in blue.")
    badge = page.get_by_test_id("rapport-badge")
    expect(badge).to_have_text("2")
    page.reload()
    expect(badge).to_have_text("2")  # history replayed, only the unseen two counted
    shot(page, f"widget-badge-{screen}")
    page.get_by_test_id("rapport-launcher").click()
    expect(page.get_by_test_id("rapport-new-marker")).to_be_visible()
    expect(page.get_by_test_id("rapport-message").last).to_be_in_viewport()  # opened at the newest
    shot(page, f"widget-new-marker-{screen}")
    page.get_by_test_id("rapport-close").click()
    expect(badge).to_have_text("")
    page.reload()
    page.wait_for_timeout(500)
    expect(badge).to_have_text("")

    # The network goes away and comes back: nothing lost, nothing doubled.
    page.get_by_test_id("rapport-launcher").click()
    expect(page.get_by_test_id("rapport-message")).to_have_count(4)
    context.set_offline(True)
    expect(page.get_by_test_id("rapport-status")).to_have_text("Reconnecting…")
    page.get_by_test_id("rapport-input").fill("Sent while offline")
    page.get_by_test_id("rapport-send").click()
    agent.say(conversation, "Said while you were offline")
    context.set_offline(False)
    expect(page.get_by_test_id("rapport-status")).to_have_text("We're online")
    messages = page.get_by_test_id("rapport-message")
    expect(messages.filter(has_text="Said while you were offline")).to_have_count(1)
    expect(messages.filter(has_text="Sent while offline")).to_have_count(1)
    expect(messages.filter(has_text="Sent while offline")).not_to_have_class("msg pending")
    expect(messages).to_have_count(6)
    agent.wait(lambda f: f["type"] == "event" and f.get("text") == "Sent while offline")
    transcript = admin.call("GET", f"/api/v1/conversations/{conversation}/events")
    texts = [e["text"] for e in transcript["events"] if e["kind"] == "message"]
    assert texts.count("Sent while offline") == 1 and len(texts) == 6
    assert page.evaluate("window.__owned") is None
    shot(page, f"widget-after-offline-{screen}")
    agent.close()
    admin.close()
    assert errors == []


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_nobody_online_the_message_goes_with_an_email(
    browser: Browser, shop_server: ProcessServer, screen: str,
) -> None:
    errors: list[str] = []
    page = watch_errors(shopper(browser, screen).new_page(), errors)
    page.goto(f"{shop_server.base}/")
    page.get_by_test_id("rapport-launcher").click()
    expect(page.get_by_test_id("rapport-away")).to_be_visible()
    page.get_by_test_id("rapport-input").fill("Is the jacket waterproof?")
    page.get_by_test_id("rapport-email").fill("not an address")
    page.get_by_test_id("rapport-send").click()
    expect(page.get_by_test_id("rapport-problem")).to_be_visible()
    expect(page.get_by_test_id("rapport-message")).to_have_count(0)  # nothing sent without an address
    shot(page, f"widget-offline-form-{screen}")
    page.get_by_test_id("rapport-email").fill("ann@example.com")
    page.get_by_test_id("rapport-transcript").check()
    page.get_by_test_id("rapport-send").click()
    sent = page.get_by_test_id("rapport-message").filter(has_text="waterproof")
    expect(sent).not_to_have_class("msg pending")
    expect(page.get_by_test_id("rapport-email")).to_have_count(0)  # asked once
    shot(page, f"widget-offline-sent-{screen}")

    admin = Admin(shop_server)
    waiting = admin.call("GET", "/api/v1/conversations")["conversations"]
    assert [(c["contact_email"], c.get("transcript_wanted")) for c in waiting] == [("ann@example.com", True)]
    admin.close()
    assert errors == []
