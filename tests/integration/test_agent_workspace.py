"""The agent workspace against a real server: inbox views, history, the customer panel, search, canned
replies and transfer with a handover note, over REST and the real sockets, each role where it may go."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.settings import Settings
from tests.support.client import WsClient
from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, AGENT_PASSWORD, LiveServer, test_settings
from tests.support.shop import Shop, customer_token


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path, auto_assign=False)


class Team:
    """Ann and Bob (agents), Mia (marketer) and the admin, each with a logged-in HTTP client."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http: dict[str, httpx.AsyncClient] = {}
        self.ids: dict[str, str] = {}

    async def start(self) -> Team:
        self.ids["ann"] = await self.server.add_agent("ann@shop.test", "Ann")
        self.ids["bob"] = await self.server.add_agent("bob@shop.test", "Bob")
        self.ids["mia"] = await self.server.add_agent("mia@shop.test", "Mia", role="marketer")
        for who, email, password in (("ann", "ann@shop.test", AGENT_PASSWORD), ("bob", "bob@shop.test", AGENT_PASSWORD),
                                     ("mia", "mia@shop.test", AGENT_PASSWORD), ("admin", ADMIN_EMAIL, ADMIN_PASSWORD)):
            client = httpx.AsyncClient(base_url=self.server.base, headers={"Origin": self.server.base})
            client.cookies.set("rapport_session", await self.server.login(email, password))
            self.http[who] = client
        return self

    async def socket(self, who: str, **hello: Any) -> WsClient:
        email = {"ann": "ann@shop.test", "bob": "bob@shop.test", "admin": ADMIN_EMAIL}[who]
        password = ADMIN_PASSWORD if who == "admin" else AGENT_PASSWORD
        return await self.server.agent(email, password, **hello)

    async def get(self, who: str, path: str, expect: int = 200, **params: Any) -> Any:
        r = await self.http[who].get(path, params=params)
        assert r.status_code == expect, (who, path, r.status_code, r.text)
        return r.json()

    async def close(self) -> None:
        for client in self.http.values():
            await client.aclose()


@pytest.fixture
async def team(server: LiveServer) -> AsyncIterator[Team]:
    made = await Team(server).start()
    yield made
    await made.close()


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[Shop]:
    _key, token = await server.node.shop_keys.create("shop", ["*"])
    client = Shop(server, token)
    yield client
    await client.close()


async def answer(client: WsClient, **frame: Any) -> dict[str, Any]:
    frame.setdefault("client_id", uuid.uuid4().hex)
    await client.send(**frame)
    return await client.wait_for(lambda f: f.get("client_id") == frame["client_id"] and f["type"] in ("ack", "error"))


async def shopper_says(server: LiveServer, text: str) -> tuple[WsClient, str]:
    shopper = await server.customer()
    ack = await shopper.send_message(text)
    assert ack["type"] == "ack", ack
    return shopper, ack["conversation_id"]


async def test_inbox_views_show_each_reader_what_they_may_see(server: LiveServer, team: Team) -> None:
    _s1, annes = await shopper_says(server, "Ann's customer asks about sizes")
    _s2, bobs = await shopper_says(server, "Bob's customer: my card number is secret")
    _s3, waiting = await shopper_says(server, "Nobody has me yet")
    ann, bob = await team.socket("ann"), await team.socket("bob")
    assert (await answer(ann, type="conversation.take", conversation_id=annes))["type"] == "ack"
    assert (await answer(bob, type="conversation.take", conversation_id=bobs))["type"] == "ack"

    mine = await team.get("ann", "/api/v1/inbox", view="mine")
    assert [c["id"] for c in mine["conversations"]] == [annes]
    assert mine["conversations"][0]["agent_unread"] == 1 and mine["conversations"][0]["last_message_at"]
    assert [c["id"] for c in (await team.get("ann", "/api/v1/inbox", view="waiting"))["conversations"]] == [waiting]
    everyone = {c["id"]: c for c in (await team.get("ann", "/api/v1/inbox", view="open"))["conversations"]}
    assert set(everyone) == {annes, bobs, waiting}
    assert everyone[bobs]["agent_id"] == team.ids["bob"] and "preview" not in everyone[bobs]
    assert everyone[annes]["preview"] == "Ann's customer asks about sizes"
    admin_view = {c["id"]: c for c in (await team.get("admin", "/api/v1/inbox", view="open"))["conversations"]}
    assert admin_view[bobs]["preview"].startswith("Bob's customer")

    assert (await answer(ann, type="conversation.close", conversation_id=annes))["type"] == "ack"
    assert [c["id"] for c in (await team.get("ann", "/api/v1/inbox", view="closed"))["conversations"]] == [annes]
    assert (await team.get("bob", "/api/v1/inbox", view="closed"))["conversations"] == []
    assert [c["id"] for c in (await team.get("admin", "/api/v1/inbox", view="closed"))["conversations"]] == [annes]
    await team.get("mia", "/api/v1/inbox", 403, view="mine")
    await team.get("ann", "/api/v1/inbox", 422, view="everything")


async def test_transfer_with_a_handover_note_the_shopper_never_sees(server: LiveServer, team: Team) -> None:
    shopper, conversation = await shopper_says(server, "I need to change my delivery address")
    ann = await team.socket("ann")
    bob = await team.socket("bob")
    assert (await answer(ann, type="conversation.take", conversation_id=conversation))["type"] == "ack"
    note = "Handover: address change for order 77, customer verified by e-mail"
    done = await answer(ann, type="conversation.transfer", conversation_id=conversation, agent_id=team.ids["bob"],
                        note=note)
    assert done["type"] == "ack", done

    # The new agent gets the note, then the assignment that names him; the shopper only the latter.
    def assignment(f: dict[str, Any]) -> bool:
        return f["type"] == "event" and f["kind"] == "assigned" and f["seq"] == done["seq"]

    handed = await bob.wait_for(lambda f: f["type"] == "event" and f["kind"] == "note")
    assigned = await bob.wait_for(assignment)
    assert handed["text"] == note and handed["author_name"] == "Ann" and handed["seq"] == done["seq"] - 1
    told = await shopper.wait_for(assignment)
    assert (told["agent_name"], told["author_name"], told["agent_id"]) == ("Bob", "Ann", team.ids["bob"])
    assert assigned["agent_name"] == "Bob"
    await shopper.quiet(0.3)
    assert not [f for f in shopper.frames if note in str(f)]
    transcript = await team.get("bob", f"/api/v1/conversations/{conversation}/history")
    assert [e["kind"] for e in transcript["events"]][-2:] == ["note", "assigned"] and transcript["writable"]
    # A resend of the transfer is the same transfer: no second note.
    again = await answer(ann, type="conversation.transfer", conversation_id=conversation, agent_id=team.ids["bob"],
                         note=note, client_id=done["client_id"])
    assert again["type"] == "ack" and again["duplicate"]
    notes = [e for e in (await team.get("bob", f"/api/v1/conversations/{conversation}/history"))["events"]
             if e["kind"] == "note"]
    assert len(notes) == 1


async def test_history_reads_back_and_stays_out_of_reach_of_other_agents(server: LiveServer, team: Team) -> None:
    shopper, first = await shopper_says(server, "first question")
    ann = await team.socket("ann")
    assert (await answer(ann, type="conversation.take", conversation_id=first))["type"] == "ack"
    for n in range(5):
        assert (await ann.send_message(f"answer {n}", first))["type"] == "ack"
    assert (await answer(ann, type="conversation.close", conversation_id=first))["type"] == "ack"
    page = await team.get("ann", f"/api/v1/conversations/{first}/history", limit=3)
    assert [e.get("text") for e in page["events"]][-1] is None  # the close
    older = await team.get("ann", f"/api/v1/conversations/{first}/history", before=page["next_before"], limit=100)
    assert older["next_before"] is None and older["events"][0]["seq"] == 1
    assert not page["writable"]
    await team.get("bob", f"/api/v1/conversations/{first}/history", 404)
    await team.get("bob", f"/api/v1/conversations/{first}/customer", 404)
    # Bob answers the same customer again: their earlier chat is his to read now, and listed for him.
    second = (await shopper.send_message("me again"))["conversation_id"]
    assert second != first
    bob = await team.socket("bob")
    assert (await answer(bob, type="conversation.take", conversation_id=second))["type"] == "ack"
    assert (await team.get("bob", f"/api/v1/conversations/{first}/history"))["conversation"]["id"] == first
    panel = await team.get("bob", f"/api/v1/conversations/{second}/customer")
    assert [(p["conversation"]["id"], p["readable"]) for p in panel["conversations"]] == [(first, True)]
    await team.get("mia", f"/api/v1/conversations/{first}/history", 403)


async def test_the_customer_panel_tells_what_the_shop_knows(server: LiveServer, team: Team, shop: Shop) -> None:
    await shop.customer("shop-ann", name="Ann Lee", email="ann@example.com", loyalty_points=1240, tier="gold",
                        tags=["vip", "runner"], total_spent=842.5)
    for order, status in (("A-1", "paid"), ("A-1", "shipped"), ("B-2", "paid")):
        await shop.call("POST", "/api/v1/orders/events", 201,
                        json={"customer_id": "shop-ann", "order_id": order, "status": status, "text": status})
    browser = await shop.browser("shop-ann")
    campaign = await shop.campaign(name="Winback", audience={"type": "customers", "customer_ids": ["shop-ann"]},
                                   title="For you", body="10% off", voucher={"kind": "percent", "amount": 10})
    offer = await browser.wait_for(lambda f: f["type"] == "notification" and f.get("voucher"))
    await shop.call("POST", f"/api/v1/vouchers/{offer['voucher']['code']}/redeem", 200, json={"order_id": "B-2"})
    await browser.send(type="page.view", url="https://shop.example/shoes", title="Shoes")
    await browser.send(type="page.view", url="https://shop.example/shoes/trail-42", title="Trail shoes 42")
    earlier = (await browser.send_message("an old question"))["conversation_id"]
    admin = await team.socket("admin")
    assert (await answer(admin, type="conversation.take", conversation_id=earlier))["type"] == "ack"
    assert (await answer(admin, type="conversation.close", conversation_id=earlier))["type"] == "ack"
    # The widget's survey after the chat; the panel reads it.
    rated = await answer(browser, type="conversation.rate", conversation_id=earlier, score=4, comment="quick and kind")
    assert rated["type"] == "ack", rated
    now = (await browser.send_message("Do the trail shoes run small?"))["conversation_id"]

    panel = await team.get("admin", f"/api/v1/conversations/{now}/customer")
    assert (panel["name"], panel["email"], panel["identified"], panel["external_id"]) == (
        "Ann Lee", "ann@example.com", True, "shop-ann")
    assert (panel["loyalty_points"], panel["tier"], panel["tags"], panel["total_spent"]) == (
        1240, "gold", ["runner", "vip"], 842.5)
    assert [(o["order_id"], o["status"]) for o in panel["orders"]] == [("B-2", "paid"), ("A-1", "shipped")]
    [voucher] = panel["vouchers"]
    assert voucher["code"] == offer["voucher"]["code"] and voucher["redeemed_order"] == "B-2"
    assert [p["url"] for p in panel["pages"]][:2] == ["https://shop.example/shoes/trail-42", "https://shop.example/shoes"]
    assert panel["pages"][0]["title"] == "Trail shoes 42"
    assert [p["conversation"]["id"] for p in panel["conversations"]] == [earlier]
    assert [(s["conversation_id"], s["score"], s["comment"]) for s in panel["satisfaction"]] == [
        (earlier, 4, "quick and kind")]
    assert campaign["status"] == "active"


async def test_an_anonymous_visitor_s_pages_are_kept_from_their_first_message(server: LiveServer, team: Team) -> None:
    visitor = await server.customer()
    for path in ("/", "/sale", "/checkout"):
        await visitor.send(type="page.view", url=f"https://shop.example{path}")
    await visitor.quiet(0.2)
    assert await server.node.db.fetchone("SELECT 1 FROM page_views") is None  # browsing alone stores nothing
    assert await server.node.db.fetchone("SELECT 1 FROM customers") is None
    conversation = (await visitor.send_message("Why does checkout fail?"))["conversation_id"]
    await visitor.send(type="page.view", url="https://shop.example/help")
    await visitor.quiet(0.2)
    panel = await team.get("admin", f"/api/v1/conversations/{conversation}/customer")
    assert not panel["identified"] and panel["external_id"] is None
    paths = ("/help", "/checkout", "/sale", "/")
    assert [p["url"] for p in panel["pages"]] == [f"https://shop.example{p}" for p in paths]


async def test_search_finds_by_words_customer_and_agent_within_the_reader_s_reach(server: LiveServer,
                                                                                 team: Team, shop: Shop) -> None:
    await shop.customer("shop-zoe", name="Zoë Quinn", email="zoe@example.com")
    zoe = await shop.browser("shop-zoe")
    zoes = (await zoe.send_message("The zipper of my rain jacket broke <script>alert(1)</script>"))["conversation_id"]
    _other, others = await shopper_says(server, "My rain jacket arrived wet")
    ann, bob = await team.socket("ann"), await team.socket("bob")
    assert (await answer(ann, type="conversation.take", conversation_id=zoes))["type"] == "ack"
    assert (await answer(bob, type="conversation.take", conversation_id=others))["type"] == "ack"

    found = await team.get("admin", "/api/v1/search", q="rain jacket")
    assert {h["conversation"]["id"] for h in found["hits"]} == {zoes, others}
    assert "\u0002rain\u0003 \u0002jacket\u0003" in found["hits"][0]["snippet"]
    assert [h["conversation"]["id"] for h in (await team.get("ann", "/api/v1/search", q="jacket"))["hits"]] == [zoes]
    zipper = (await team.get("ann", "/api/v1/search", q="zipp"))["hits"][0]
    assert "<script>alert(1)</script>" in zipper["snippet"]  # as typed: the console shows it as text
    by_customer = await team.get("admin", "/api/v1/search", q="zoe@exa")
    assert [c["id"] for c in by_customer["conversations"]] == [zoes]
    by_agent = await team.get("admin", "/api/v1/search", agent=team.ids["bob"])
    assert [c["id"] for c in by_agent["conversations"]] == [others] and by_agent["hits"] == []
    assert (await team.get("admin", "/api/v1/search", q="jacket", agent=team.ids["ann"]))["hits"][0]["conversation"][
        "id"] == zoes
    await team.get("mia", "/api/v1/search", 403, q="jacket")


async def test_canned_replies_admins_write_agents_use(server: LiveServer, team: Team, shop: Shop) -> None:
    body = {"title": "Points", "shortcut": "points", "body": "Hi {{ customer.first_name }}, you have "
            "{{ customer.loyalty_points }} points."}
    r = await team.http["ann"].post("/api/v1/canned-replies", json=body)
    assert r.status_code == 403, r.text
    created = await team.http["admin"].post("/api/v1/canned-replies", json=body)
    assert created.status_code == 201, created.text
    reply = created.json()
    bad = await team.http["admin"].post("/api/v1/canned-replies", json={**body, "shortcut": "v",
                                                                          "body": "{{ voucher.code }}"})
    assert bad.status_code == 422 and "unknown variable" in bad.json()["detail"]
    assert [x["shortcut"] for x in (await team.get("ann", "/api/v1/canned-replies"))["replies"]] == ["points"]
    await team.get("mia", "/api/v1/canned-replies", 403)

    await shop.customer("shop-ann", name="Ann Lee", loyalty_points=320)
    browser = await shop.browser("shop-ann")
    conversation = (await browser.send_message("how many points do I have?"))["conversation_id"]
    ann = await team.socket("ann")
    assert (await answer(ann, type="conversation.take", conversation_id=conversation))["type"] == "ack"
    rendered = await team.http["ann"].post(f"/api/v1/canned-replies/{reply['id']}/render",
                                           json={"conversation_id": conversation})
    assert rendered.status_code == 200 and rendered.json() == {"text": "Hi Ann, you have 320 points."}
    theirs = await team.http["bob"].post(f"/api/v1/canned-replies/{reply['id']}/render",
                                         json={"conversation_id": conversation})
    assert theirs.status_code == 404

    changed = await team.http["admin"].patch(f"/api/v1/canned-replies/{reply['id']}", json={"title": "Loyalty"})
    assert changed.status_code == 200 and changed.json()["title"] == "Loyalty"
    assert (await team.http["admin"].delete(f"/api/v1/canned-replies/{reply['id']}")).status_code == 204
    assert (await team.http["admin"].delete(f"/api/v1/canned-replies/{reply['id']}")).status_code == 404


async def test_the_session_tells_the_agent_their_cap(team: Team) -> None:
    assert (await team.get("ann", "/api/v1/session"))["agent"]["max_concurrent"] == 5


async def test_an_away_agent_is_given_no_chat_until_they_are_back(tmp_path: Path, live_server_factory: Any) -> None:
    server = await live_server_factory(test_settings(tmp_path, auto_assign=True))
    await server.add_agent("ann@shop.test", "Ann")
    ann = await server.agent("ann@shop.test", AGENT_PASSWORD, status="away")
    assert ann.welcome["agent"]["status"] == "away"
    _shopper, conversation = await shopper_says(server, "hello?")
    queued = await ann.wait_type("queue", timeout=5)
    while not queued.get("waiting"):
        queued = await ann.wait_type("queue", timeout=5)
    assert [c["id"] for c in queued["waiting"]] == [conversation]
    await ann.quiet(0.5)
    assert not [f for f in ann.frames if f["type"] == "conversation"]
    await ann.send(type="presence.set", status="online")
    granted = await ann.wait_type("conversation", timeout=5)
    assert granted["conversation"]["id"] == conversation
    assert granted["conversation"]["agent_id"] == ann.welcome["agent"]["id"]


async def test_a_widget_names_the_agent_who_takes_over_after_a_transfer(server: LiveServer, team: Team) -> None:
    """Through the shopper's own socket, as the widget reads it (with identity: a logged-in shopper)."""
    shopper = await WsClient.connect(f"{server.ws}/ws/widget")
    await shopper.hello(identity={"user_id": "u-1", "token": customer_token("u-1")})
    conversation = (await shopper.send_message("hi"))["conversation_id"]
    admin = await team.socket("admin")
    assert (await answer(admin, type="conversation.take", conversation_id=conversation))["type"] == "ack"
    took = await shopper.wait_for(lambda f: f["type"] == "event" and f["kind"] == "assigned")
    assert took["agent_name"] == "Admin"
    assert (await answer(admin, type="conversation.transfer", conversation_id=conversation,
                         agent_id=team.ids["ann"]))["type"] == "ack"
    moved = await shopper.wait_for(lambda f: f["type"] == "event" and f["kind"] == "assigned")
    assert (moved["agent_name"], moved["author_name"]) == ("Ann", "Admin")


async def test_a_visitor_who_logs_in_keeps_the_pages_they_came_through(server: LiveServer, team: Team,
                                                                     shop: Shop) -> None:
    await shop.customer("shop-kim", name="Kim")
    returning = await shop.browser("shop-kim")  # Kim has a record already, from an earlier visit
    await returning.close()
    visitor = await server.customer()
    await visitor.send(type="page.view", url="https://shop.example/tents")
    await visitor.send_message("is the 3-person tent waterproof?")  # their record exists from here
    await visitor.send(type="page.view", url="https://shop.example/tents/3p")
    await visitor.quiet(0.2)
    token = visitor.welcome["visitor_token"]
    kim = await WsClient.connect(f"{server.ws}/ws/widget")
    await kim.hello(visitor_token=token, identity={"user_id": "shop-kim", "token": customer_token("shop-kim")})
    conversation = (await kim.send_message("logged in now"))["conversation_id"]
    panel = await team.get("admin", f"/api/v1/conversations/{conversation}/customer")
    assert panel["external_id"] == "shop-kim"
    assert [p["url"] for p in panel["pages"]] == ["https://shop.example/tents/3p", "https://shop.example/tents"]
