"""The agent console in real headless Chromium against a real server: two agents in two browser
contexts, shoppers on the demo shop through the real widget, the shop's back end over its API.

Outside the project's control, and so stood in for: the operating system's desktop notifications
(recorded as the console creates them) and whether a tab is hidden (headless tabs never are).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from websockets.sync.client import connect

from tests.browser.conftest import SCREENSHOTS
from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, AGENT_PASSWORD, ProcessServer, test_settings
from tests.support.shop import customer_token

# Desktop notifications are recorded as the console creates them (the real constructor runs when the
# browser has one), chimes counted, and the tab can be told it is hidden.
CONSOLE_WATCH = """
window.__notes = [];
window.__chimes = 0;
const RealNotification = window.Notification;
class RecordedNotification {
  constructor(title, options) { window.__notes.push({ title, body: (options || {}).body }); }
  close() {}
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
}
window.Notification = RecordedNotification;
if (window.AudioContext) {
  const create = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () { window.__chimes += 1; return create.call(this); };
}
let hidden = false;
Object.defineProperty(document, "visibilityState", { get: () => (hidden ? "hidden" : "visible") });
Object.defineProperty(document, "hidden", { get: () => hidden });
window.__setHidden = (value) => { hidden = value; document.dispatchEvent(new Event("visibilitychange")); };
void RealNotification;
"""

# Anything a payload manages to run leaves a mark here.
XSS_TRAP = "window.__xss = [];"


class ShopBackEnd:
    """The shop's back end: an API key made by the admin, then its calls."""

    def __init__(self, server: ProcessServer) -> None:
        self.admin = httpx.Client(base_url=server.base, headers={"Origin": server.base})
        login = self.admin.post("/api/v1/session", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        login.raise_for_status()
        made = self.admin.post("/api/v1/api-keys", json={"name": "shop", "scopes": ["*"]})
        made.raise_for_status()
        self.api = httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {made.json()['token']}"})

    def call(self, method: str, path: str, expect_status: int, **kwargs: Any) -> Any:
        r = self.api.request(method, path, **kwargs)
        assert r.status_code == expect_status, (path, r.status_code, r.text)
        return r.json() if r.content else None

    def as_admin(self, method: str, path: str, expect_status: int, **kwargs: Any) -> Any:
        r = self.admin.request(method, path, **kwargs)
        assert r.status_code == expect_status, (path, r.status_code, r.text)
        return r.json() if r.content else None

    def close(self) -> None:
        self.admin.close()
        self.api.close()


@pytest.fixture
def shop(shop_server: ProcessServer) -> Iterator[ShopBackEnd]:
    back_end = ShopBackEnd(shop_server)
    yield back_end
    back_end.close()


class Watch:
    """Every page error of the test's pages: a healthy console raises none."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def page(self, context: BrowserContext, name: str) -> Page:
        page = context.new_page()
        page.on("pageerror", lambda e: self.errors.append(f"{name}: {e}"))
        return page


def console(browser: Browser, watch: Watch, server: ProcessServer, email: str, password: str, name: str,
            width: int = 1280, height: int = 800) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(CONSOLE_WATCH + XSS_TRAP)
    page = watch.page(context, name)
    page.goto(f"{server.base}/console")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("me-name")).to_be_visible()
    return page


def shopper(browser: Browser, watch: Watch, server: ProcessServer, user_id: str | None = None, *,
            phone: bool = False) -> Page:
    """The demo shop with the real widget; logged in to the shop as `user_id` (a signed JWT) if given."""
    if phone:
        context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    else:
        context = browser.new_context(viewport={"width": 1100, "height": 760})
    script = XSS_TRAP
    if user_id:
        token = customer_token(user_id)
        script += ("window.Rapport = function () { (Rapport.q = Rapport.q || []).push(arguments); };"
                   f"Rapport('setUser', {{ user_id: '{user_id}', token: '{token}' }});")
    context.add_init_script(script)
    page = watch.page(context, f"shopper {user_id or 'anonymous'}")
    page.goto(f"{server.base}/")
    page.get_by_test_id("rapport-launcher").click()
    expect(page.get_by_test_id("rapport-status")).to_have_text(re.compile("online", re.I))
    return page


def say(page: Page, text: str) -> None:
    page.get_by_test_id("rapport-input").fill(text)
    page.get_by_test_id("rapport-send").click()
    expect(page.get_by_test_id("rapport-message").filter(has_text=text)).not_to_have_class(re.compile("pending"))


def write(page: Page, text: str) -> None:
    box = page.get_by_test_id("composer-input")
    box.fill(text)
    box.press("Enter")


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def no_payload_ran(*pages: Page) -> None:
    for page in pages:
        assert page.evaluate("window.__xss") == [], page.evaluate("window.__xss")
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"], script[data-xss]').length") == 0


def test_two_agents_work_a_chat_from_queue_to_search(browser: Browser, shop_server: ProcessServer,
                                                     shop: ShopBackEnd) -> None:
    watch = Watch()
    ann_id = shop.as_admin("POST", "/api/v1/accounts", 201, json={"email": "ann@shop.test", "name": "Ann",
                                                                  "password": AGENT_PASSWORD})["id"]
    shop.as_admin("POST", "/api/v1/accounts", 201, json={"email": "bob@shop.test", "name": "Bob",
                                                         "password": AGENT_PASSWORD})
    shop.as_admin("POST", "/api/v1/canned-replies", 201, json={
        "title": "Points", "shortcut": "points",
        "body": "Hi {{ customer.first_name }}, you have {{ customer.loyalty_points }} points to spend."})
    shop.call("PUT", "/api/v1/customers/shop-lea", 200, json={"name": "Léa Martin", "loyalty_points": 320})

    ann = console(browser, watch, shop_server, "ann@shop.test", AGENT_PASSWORD, "ann")
    bob = console(browser, watch, shop_server, "bob@shop.test", AGENT_PASSWORD, "bob")
    for page in (ann, bob):
        page.get_by_test_id("view-waiting").click()
        expect(page.get_by_test_id("count-waiting")).to_have_text("0")
    bob.evaluate("window.__setHidden(true)")  # Bob is in another tab

    lea = shopper(browser, watch, shop_server, "shop-lea")
    say(lea, "Hi! Do the trail shoes run small?")

    # Live in Waiting for both, with a notification: a toast and chime on screen, a desktop one when hidden.
    for page in (ann, bob):
        row = page.get_by_test_id("conversation-row").filter(has_text="Léa Martin")
        expect(row).to_be_visible()
        expect(row).to_contain_text("trail shoes")
        expect(page.get_by_test_id("count-waiting")).to_have_text("1")
    expect(ann.get_by_test_id("toast")).to_contain_text("New chat from Léa Martin")
    bob.wait_for_function("window.__notes.some((n) => n.title === 'New chat')")
    assert "trail shoes" in bob.evaluate("window.__notes[0].body")
    assert ann.evaluate("window.__chimes") > 0 and bob.evaluate("window.__chimes") > 0
    assert ann.evaluate("window.__notes") == []  # on screen: no desktop notification
    expect(bob).to_have_title(re.compile(r"^\(1\) "))
    shot(ann, "console-new-chat-ann")

    # Ann takes it; it leaves Bob's Waiting.
    ann.get_by_test_id("conversation-row").filter(has_text="Léa Martin").get_by_test_id("take").click()
    expect(bob.get_by_test_id("count-waiting")).to_have_text("0")
    expect(bob.get_by_test_id("conversation-row")).to_have_count(0)
    expect(ann.get_by_test_id("conversation-status")).to_have_text("Yours")
    expect(ann.get_by_test_id("cap")).to_have_text("1 / 5 chats")

    # Reply, then a private note (a visibly different composer), which never reaches the shopper.
    write(ann, "They run half a size small: take a 42.5.")
    expect(lea.get_by_test_id("rapport-message").filter(has_text="half a size small")).to_have_attribute(
        "data-author", "agent")
    ann.get_by_test_id("composer-tab-note").click()
    expect(ann.get_by_test_id("composer")).to_have_attribute("data-mode", "note")
    expect(ann.get_by_test_id("composer")).to_have_css("background-color", "rgb(254, 249, 195)")
    shot(ann, "console-note-composer")
    write(ann, "VIP runner: offer the free exchange")
    expect(ann.get_by_test_id("transcript-note")).to_contain_text("offer the free exchange")
    expect(ann.get_by_test_id("composer")).to_have_attribute("data-mode", "reply")  # back to replying

    # A canned reply: '/' opens the picker, typing filters, Enter inserts it with the placeholders filled.
    box = ann.get_by_test_id("composer-input")
    box.click()
    box.press_sequentially("/poi")
    expect(ann.get_by_test_id("canned-option")).to_have_count(1)
    shot(ann, "console-canned-picker")
    box.press("Enter")
    expect(box).to_have_value("Hi Léa, you have 320 points to spend.")
    box.press("Enter")
    expect(lea.get_by_test_id("rapport-message").filter(has_text="you have 320 points")).to_be_visible()

    # Edit the last message.
    ann.get_by_test_id("edit-last").click()
    expect(box).to_have_value("Hi Léa, you have 320 points to spend.")
    box.fill("Hi Léa, you have 320 points to spend on them.")
    box.press("Enter")
    expect(ann.get_by_test_id("transcript-message").filter(has_text="to spend on them")).to_contain_text("edited")
    expect(lea.get_by_test_id("rapport-messages")).to_contain_text("to spend on them. (edited)")
    expect(lea.get_by_test_id("rapport-messages")).not_to_contain_text("free exchange")

    # Transfer to Bob with a handover note: Bob reads it, the shopper's widget names Bob.
    ann.get_by_test_id("transfer-button").click()
    dialog = ann.get_by_test_id("transfer-dialog")
    # Colleagues who are not online are listed with their status, not offered (the admin never logged in).
    offline = dialog.get_by_test_id("transfer-agent").filter(has_text="Admin")
    expect(offline).to_contain_text("offline")
    expect(offline.locator("input")).to_be_disabled()
    dialog.get_by_test_id("transfer-agent").filter(has_text="Bob").locator("input").check()
    dialog.get_by_test_id("transfer-note").fill("Handover: wants 42.5, exchange agreed")
    shot(ann, "console-transfer-dialog")
    dialog.get_by_test_id("transfer-submit").click()
    expect(lea.locator(".system").filter(has_text="Bob joined the chat")).to_be_visible()
    expect(lea.locator(".system").last).to_have_text("Bob joined the chat")
    expect(lea.get_by_test_id("rapport-messages")).not_to_contain_text("Handover")
    bob.wait_for_function("window.__notes.some((n) => n.title === 'A chat for you')")
    expect(ann.get_by_test_id("cap")).to_have_text("0 / 5 chats")
    bob.evaluate("window.__setHidden(false)")
    bob.get_by_test_id("view-mine").click()
    bob.get_by_test_id("conversation-row").filter(has_text="Léa Martin").click()
    expect(bob.get_by_test_id("transcript-note").filter(has_text="Handover: wants 42.5")).to_be_visible()
    expect(bob.get_by_test_id("transcript")).to_contain_text("Assigned to Bob by Ann")
    shot(lea, "widget-after-transfer")
    lea.set_viewport_size({"width": 375, "height": 812})
    expect(lea.locator(".system").last).to_be_in_viewport()
    shot(lea, "widget-after-transfer-phone")

    # Bob closes it; it is found under Closed and by search, and reopened.
    bob.get_by_test_id("close-button").click()
    expect(bob.get_by_test_id("conversation-status")).to_have_text("Closed")
    bob.get_by_test_id("view-closed").click()
    expect(bob.get_by_test_id("conversation-row").filter(has_text="Léa Martin")).to_have_attribute(
        "data-status", "closed")
    bob.get_by_test_id("nav-search").click()
    bob.get_by_test_id("search-input").fill("half size")
    hit = bob.get_by_test_id("search-hit").first
    expect(hit).to_contain_text("Léa Martin")
    expect(hit.locator("mark").first).to_have_text("half")
    shot(bob, "console-search")
    hit.click()
    expect(bob.locator(".msg.flash")).to_contain_text("half a size small")
    bob.get_by_test_id("reopen").click()
    expect(bob.get_by_test_id("conversation-status")).to_have_text("Yours")
    write(bob, "Reopened: the 42.5 is back in stock.")
    expect(lea.get_by_test_id("rapport-message").filter(has_text="back in stock")).to_be_visible()
    shot(bob, "console-reopened")
    assert ann_id
    assert watch.errors == []


def test_the_customer_panel_and_hostile_text_shown_as_text(browser: Browser, shop_server: ProcessServer,
                                                          shop: ShopBackEnd) -> None:
    watch = Watch()
    hostile = '<img src=x onerror="window.__xss.push(1)">Eve'
    shop.call("PUT", "/api/v1/customers/shop-eve", 200, json={
        "name": hostile, "email": "eve@example.com", "loyalty_points": 1240, "tier": "gold",
        "tags": ["vip"], "total_spent": 842.5})
    for status in ("paid", "shipped"):
        shop.call("POST", "/api/v1/orders/events", 201,
                  json={"customer_id": "shop-eve", "order_id": "A-1001", "status": status, "text": status})
    admin = console(browser, watch, shop_server, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")

    # The admin writes a canned reply with markup in it, in the console.
    admin.get_by_test_id("nav-canned").click()
    admin.get_by_test_id("canned-title").fill("<b>Bold</b> greeting")
    admin.get_by_test_id("canned-shortcut").fill("hello")
    admin.get_by_test_id("canned-body").fill(
        '<script data-xss>window.__xss.push(2)</script> Hi {{ customer.first_name }}, how can I help?')
    admin.get_by_test_id("canned-save").click()
    expect(admin.get_by_test_id("canned-row")).to_contain_text("<b>Bold</b> greeting")
    expect(admin.get_by_test_id("canned-row")).to_contain_text("<script data-xss>")
    shot(admin, "console-canned-admin")

    eve = shopper(browser, watch, shop_server, "shop-eve")
    eve.evaluate("history.pushState({}, '', '/checkout'); document.title = 'Checkout';"
                 " dispatchEvent(new PopStateEvent('popstate'))")
    say(eve, '<img src=x onerror="window.__xss.push(3)"> my voucher fails at checkout')
    other = shopper(browser, watch, shop_server)
    say(other, "Do you ship to Norway?")

    admin.get_by_test_id("nav-inbox").click()
    admin.get_by_test_id("view-waiting").click()
    expect(admin.get_by_test_id("conversation-row")).to_have_count(2)
    row = admin.get_by_test_id("conversation-row").filter(has_text="voucher fails")
    expect(row.get_by_test_id("row-name")).to_have_text(hostile)
    row.locator("a").click()

    panel = admin.get_by_test_id("customer-panel")
    expect(panel.get_by_test_id("customer-name")).to_have_text(hostile)
    expect(panel.get_by_test_id("customer-points")).to_have_text(re.compile(r"1[,.\u202f\u00a0]?240"))
    expect(panel.get_by_test_id("customer-tier")).to_have_text("gold")
    expect(panel.get_by_test_id("customer-orders")).to_contain_text("A-1001")
    expect(panel.get_by_test_id("order-status")).to_have_text("shipped")
    expect(panel.get_by_test_id("customer-current-page")).to_contain_text("/checkout")
    expect(panel.get_by_test_id("customer-current-page")).to_contain_text("Checkout")
    first = admin.get_by_test_id("transcript-message").first
    expect(first).to_contain_text('<img src=x onerror="window.__xss.push(3)">')

    # Keyboard: the next chat and back, then the composer, without the mouse.
    admin.get_by_test_id("transcript").focus()
    admin.keyboard.press("Alt+ArrowDown")
    expect(admin.get_by_test_id("conversation-title")).not_to_have_text(hostile)
    admin.keyboard.press("Alt+ArrowUp")
    expect(admin.get_by_test_id("conversation-title")).to_have_text(hostile)
    admin.get_by_test_id("take-head").click()
    expect(admin.get_by_test_id("conversation-status")).to_have_text("Yours")
    admin.get_by_test_id("transcript").focus()
    admin.keyboard.press("r")
    expect(admin.get_by_test_id("composer-input")).to_be_focused()
    admin.keyboard.type("/hel")
    option = admin.get_by_test_id("canned-option")
    expect(option).to_contain_text("<b>Bold</b> greeting")
    admin.keyboard.press("Enter")
    box = admin.get_by_test_id("composer-input")
    first_name = hostile.split(" ")[0]  # as campaign templates cut it
    expect(box).to_have_value(f"<script data-xss>window.__xss.push(2)</script> Hi {first_name}, how can I help?")
    admin.keyboard.press("Enter")
    sent = admin.get_by_test_id("transcript-message").filter(has_text="how can I help")
    expect(sent).to_contain_text("<script data-xss>")
    expect(eve.get_by_test_id("rapport-message").filter(has_text="how can I help")).to_contain_text("<script data-xss>")
    shot(admin, "console-panel-1280")
    admin.set_viewport_size({"width": 1024, "height": 768})
    expect(panel).to_be_visible()
    expect(admin.get_by_test_id("composer-send")).to_be_in_viewport()
    shot(admin, "console-panel-1024")
    no_payload_ran(admin, eve)
    assert watch.errors == []


def test_a_marketer_lands_on_the_studio_and_an_admin_manages_the_team(browser: Browser, shop_server: ProcessServer,
                                                                     shop: ShopBackEnd) -> None:
    watch = Watch()
    shop.as_admin("POST", "/api/v1/accounts", 201, json={"email": "mia@shop.test", "name": "Mia",
                                                         "password": AGENT_PASSWORD, "role": "marketer"})
    mia = console(browser, watch, shop_server, "mia@shop.test", AGENT_PASSWORD, "mia")
    expect(mia.get_by_test_id("studio-tab-campaigns")).to_have_attribute("aria-selected", "true")
    expect(mia).to_have_url(re.compile(r"#/studio$"))
    expect(mia.get_by_test_id("nav-inbox")).to_have_count(0)
    expect(mia.get_by_test_id("login-submit")).to_have_count(0)
    mia.wait_for_timeout(500)  # no socket opened for a marketer, so nothing to bounce them back
    expect(mia.get_by_test_id("studio-screen")).to_be_visible()
    shot(mia, "console-marketer-studio")

    admin = console(browser, watch, shop_server, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    admin.get_by_test_id("nav-agents").click()
    create = admin.get_by_test_id("account-create")
    create.get_by_label("Name").fill("Sam Support")
    create.get_by_label("E-mail").fill("sam@shop.test")
    create.get_by_label("Password").fill("sam-support-pass-7")
    create.get_by_label("Concurrent chats").fill("3")
    create.get_by_role("button", name="Create").click()
    row = admin.locator('[data-testid="account-row"][data-email="sam@shop.test"]')
    expect(row).to_be_visible()
    row.get_by_label("Concurrent chats").fill("8")
    row.get_by_label("Role").select_option("admin")
    row.get_by_role("button", name="Save").click()
    row.get_by_test_id("toggle-disabled").click()
    expect(row.get_by_test_id("toggle-disabled")).to_have_text("Reactivate")
    shot(admin, "console-agents-admin")
    [sam] = [a for a in shop.as_admin("GET", "/api/v1/accounts", 200)["accounts"] if a["email"] == "sam@shop.test"]
    assert (sam["max_concurrent"], sam["role"], sam["disabled"]) == (8, "admin", True)
    assert watch.errors == []


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[ProcessServer]:
    """A server that lets one shopper write a long conversation quickly."""
    settings = msgspec.structs.replace(test_settings(tmp_path), auto_assign=False, rate_per_second=1000.0,
                                       rate_burst=1000)
    server = ProcessServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_long_closed_conversation_reads_back_to_its_start_on_scroll(browser: Browser,
                                                                      busy_server: ProcessServer) -> None:
    watch = Watch()
    with connect(f"{busy_server.ws}/ws/widget", origin=busy_server.base, compression=None) as shopper:
        shopper.send(json.dumps({"type": "hello"}))
        json.loads(shopper.recv(5))
        conversation = None
        for n in range(1, 261):
            frame: dict[str, Any] = {"type": "message.send", "client_id": f"m{n}", "text": f"line {n} of my story"}
            if conversation:
                frame["conversation_id"] = conversation
            shopper.send(json.dumps(frame))
            while True:
                answer = json.loads(shopper.recv(5))
                if answer.get("type") == "ack":
                    conversation = answer["conversation_id"]
                    break
    admin = console(browser, watch, busy_server, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    admin.get_by_test_id("view-waiting").click()
    admin.get_by_test_id("conversation-row").get_by_test_id("take").click()
    admin.get_by_test_id("close-button").click()
    expect(admin.get_by_test_id("conversation-status")).to_have_text("Closed")
    admin.reload()  # a fresh console: the closed conversation is read from history, the latest first
    admin.get_by_test_id("view-closed").click()
    admin.get_by_test_id("conversation-row").locator("a").click()
    messages = admin.get_by_test_id("transcript-message")
    expect(messages.last).to_contain_text("line 260 of my story")
    expect(admin.get_by_text("line 1 of my story", exact=True)).to_have_count(0)
    transcript = admin.get_by_test_id("transcript")
    for _ in range(20):  # scroll back, as an agent would, until the start
        if admin.get_by_text("Start of the conversation").count():
            break
        transcript.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
        admin.wait_for_timeout(250)
    expect(admin.get_by_text("Start of the conversation")).to_be_visible()
    expect(admin.get_by_text("line 1 of my story", exact=True)).to_be_visible()
    first, second = (admin.get_by_text(f"line {n} of my story", exact=True) for n in (1, 2))
    assert first.bounding_box()["y"] < second.bounding_box()["y"]  # type: ignore[index]
    transcript.evaluate("el => { el.scrollTop = 0; }")
    expect(admin.get_by_text("Start of the conversation")).to_be_in_viewport()
    shot(admin, "console-history-start")
    assert watch.errors == []
