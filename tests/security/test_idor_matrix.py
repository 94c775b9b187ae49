"""The generated access matrix: every REST route of the endpoint registry and every client frame
that names a conversation, tried with credentials that must not reach it and with another
party's objects. New routes, path parameters and frame types are covered without anyone adding
them here; one this module cannot build a request for makes it FAIL, saying what to add."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.api.endpoint import Endpoint
from server.api.routes import endpoints
from server.protocol import ClientFrame
from server.settings import Settings
from server.store.api_keys import SCOPES
from tests.security.conftest import answer, widget
from tests.support.client import WsClient
from tests.support.live import AGENT_PASSWORD, LiveServer, test_settings
from tests.support.shop import customer_token

PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
EXTERNAL_IDS = {"cust_a": "cust-a", "cust_b": "cust-b"}

# Routes anyone may call. A route made public by mistake must not pass unnoticed: add it here
# only if it is meant to answer strangers.
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json"),
    ("POST", "/api/v1/session"), ("DELETE", "/api/v1/session"),
    # A signed token in the path or the reply address is the credential (tests/integration/test_mail.py
    # refuses forged ones): whoever holds it may use it.
    ("GET", "/mail/unsubscribe/{token:str}"), ("POST", "/mail/unsubscribe/{token:str}"),
    ("POST", "/api/v1/mail/inbound"),
}

# A body that passes validation, for routes where a party that reaches the route must be
# refused by the object check (not by the body's validation). Keyed by (method, path).
VALID_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/conversations/{conversation_id:str}/transcript"): {"email": "intruder@evil.test"},
}


@dataclasses.dataclass
class Party:
    name: str
    kind: str  # "nobody", "customer", "agent", "key"
    role: str | None = None
    scopes: tuple[str, ...] = ()
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    socket: WsClient | None = None
    id: str = ""


@dataclasses.dataclass
class Obj:
    """One object a path parameter can name: who may see it, and text of it no one else may read."""

    id: str
    owners: set[str]
    marks: list[str]


@dataclasses.dataclass
class World:
    server: LiveServer
    parties: dict[str, Party]
    objects: dict[str, list[Obj]]  # by path parameter name
    conversations: dict[str, str]  # party -> its conversation


def denied(ep: Endpoint, party: Party) -> bool:
    """Whether `party` must not get past the route's access check at all (the security model in
    words: no credentials reach nothing; customers reach only customer routes; an agent-role
    cookie reaches no admin or marketer route; a marketer no chat; a key only its scopes)."""
    if (ep.method, ep.path) in PUBLIC:
        return False
    if party.kind == "nobody":
        return True
    if party.kind == "customer":
        return ep.access.kind != "caller"
    if party.kind == "key":
        return ep.access.kind != "shop" or not ({ep.access.scope, "*"} & set(party.scopes))
    assert party.role is not None
    if ep.access.kind == "caller":
        return party.role == "marketer"
    if ep.access.kind == "shop":
        return party.role not in ep.access.roles
    return bool(ep.access.roles) and party.role not in ep.access.roles


def is_the_shop(ep: Endpoint, party: Party) -> bool:
    """Parties that hold every object a route names by design: the admin; on the shop's routes,
    the keys and roles let in (single tenant: the shop's objects are all theirs)."""
    if party.kind == "agent" and party.role == "admin":
        return True
    return ep.access.kind == "shop" and party.kind in ("key", "agent")


def path_with(ep: Endpoint, world: World, choose: Callable[[str], Obj]) -> str:
    def fill(match: re.Match[str]) -> str:
        return choose(match.group(1)).id
    return PATH_PARAM.sub(fill, ep.path)


def missing_fixture(ep: Endpoint, world: World) -> list[str]:
    return [p for p in PATH_PARAM.findall(ep.path) if not world.objects.get(p)]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path, auto_assign=False, frequency_cap_per_day=100)


@pytest.fixture
async def world(server: LiveServer) -> AsyncIterator[World]:
    node = server.node
    ann_id = await server.add_agent("ann@shop.test", "Ann")
    bob_id = await server.add_agent("bob@shop.test", "Bob")
    mia_id = await server.add_agent("mia@shop.test", "Mia", role="marketer")
    parties: dict[str, Party] = {"nobody": Party("nobody", "nobody")}
    for name, email, password, role, agent_id in (
        ("agent_a", "ann@shop.test", AGENT_PASSWORD, "agent", ann_id),
        ("agent_b", "bob@shop.test", AGENT_PASSWORD, "agent", bob_id),
        ("marketer", "mia@shop.test", AGENT_PASSWORD, "marketer", mia_id),
        ("admin", "admin@example.com", "console-pass-1", "admin", ""),
    ):
        cookie = await server.login(email, password)
        parties[name] = Party(name, "agent", role=role, id=agent_id,
                              headers={"Cookie": f"rapport_session={cookie}", "Origin": server.base})
    keys: dict[str, str] = {}
    for scope in (*SCOPES, "*"):
        _key, token = await node.shop_keys.create(f"key {scope}", [scope])
        keys[scope] = token
        parties[f"key:{scope}"] = Party(f"key:{scope}", "key", scopes=(scope,),
                                        headers={"Authorization": f"Bearer {token}"})
    victim_key, _token = await node.shop_keys.create("KEY-SECRET-NAME", ["orders"])
    shop = httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {keys['*']}"}, timeout=30)

    async def call(method: str, path: str, **kwargs: Any) -> Any:
        r = await shop.request(method, path, **kwargs)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    objects: dict[str, list[Obj]] = {}
    conversations: dict[str, str] = {}
    sockets: list[WsClient] = []
    try:
        agents = {n: await server.agent(email, AGENT_PASSWORD) for n, email in
                  (("agent_a", "ann@shop.test"), ("agent_b", "bob@shop.test"))}
        sockets += agents.values()
        for who, agent in (("cust_a", "agent_a"), ("cust_b", "agent_b")):
            external_id = EXTERNAL_IDS[who]
            upper = who.upper()
            await call("PUT", f"/api/v1/customers/{external_id}", json={
                "name": f"{upper}-SECRET-NAME", "email": f"{who}-secret@shop.test", "marketing_consent": True})
            token = customer_token(external_id)
            client = await widget(server, identity={"user_id": external_id, "token": token})
            sockets.append(client)
            parties[who] = Party(who, "customer", headers={"Authorization": f"Bearer {token}"}, socket=client,
                                 id=client.welcome["customer_id"])
            objects.setdefault("external_id", []).append(Obj(external_id, {who}, [f"{upper}-SECRET-NAME"]))
            reminder = await call("POST", f"/api/v1/customers/{external_id}/reminders", json={
                "name": f"{upper}-REMINDER-SECRET", "month": 5, "day": 17, "title": "Hi", "body": "Happy day"})
            objects.setdefault("reminder_id", []).append(Obj(reminder["id"], {who}, [f"{upper}-REMINDER-SECRET"]))
            conversations[who] = await _open_chat(client, agents[agent], f"{upper}-SECRET-MESSAGE")
        visitor = await widget(server)
        sockets.append(visitor)
        parties["visitor"] = Party("visitor", "customer", socket=visitor, id=visitor.welcome["customer_id"],
                                   headers={"Authorization": f"Bearer {visitor.welcome['visitor_token']}"})
        conversations["visitor"] = await _open_chat(visitor, agents["agent_a"], "VISITOR-SECRET-MESSAGE")
        assigned = {"cust_a": "agent_a", "cust_b": "agent_b", "visitor": "agent_a"}
        objects["conversation_id"] = [
            Obj(conv, {who, assigned[who], "key:conversations"}, [f"{who.upper()}-SECRET-MESSAGE",
                                                                  f"{who.upper()}-SECRET-NOTE"])
            for who, conv in conversations.items()]

        campaign = await call("POST", "/api/v1/campaigns", json={
            "name": "CAMPAIGN-SECRET-NAME", "kind": "offer",
            "audience": {"type": "customers", "customer_ids": ["cust-a", "cust-b"]},
            "title": "{{ voucher.amount | int }}% off", "body": "Use {{ voucher.code }}",
            "voucher": {"kind": "percent", "amount": 10}})
        await call("POST", f"/api/v1/campaigns/{campaign['id']}/send", json={})
        objects["campaign_id"] = [Obj(campaign["id"], set(), ["CAMPAIGN-SECRET-NAME"])]
        objects["code"] = []
        for who in ("cust_a", "cust_b"):
            socket = parties[who].socket
            assert socket is not None
            got = await socket.wait_type("notification", kind="offer", timeout=10)
            objects["code"].append(Obj(got["voucher"]["code"], {who}, [got["voucher"]["code"] + "-NEVER"]))
        segment = await call("POST", "/api/v1/segments", json={
            "name": "SEGMENT-SECRET-NAME", "rules": {"field": "loyalty_points", "op": "gte", "value": 0}})
        objects["segment_id"] = [Obj(segment["id"], set(), ["SEGMENT-SECRET-NAME"])]
        pool = await call("POST", "/api/v1/voucher-pools", json={
            "name": "POOL-SECRET-NAME", "kind": "percent", "amount": 10})
        objects["pool_id"] = [Obj(pool["id"], set(), ["POOL-SECRET-NAME"])]
        # Canned replies are the whole team's: every agent and the admin hold them.
        async with httpx.AsyncClient(base_url=server.base, headers=parties["admin"].headers) as admin:
            made = await admin.post("/api/v1/canned-replies", json={
                "title": "REPLY-SECRET-TITLE", "shortcut": "secret", "body": "REPLY-SECRET-BODY"})
            assert made.status_code == 201, made.text
        objects["reply_id"] = [Obj(made.json()["id"], {"agent_a", "agent_b", "admin"},
                                   ["REPLY-SECRET-TITLE", "REPLY-SECRET-BODY"])]
        objects["key_id"] = [Obj(victim_key.id, set(), ["KEY-SECRET-NAME"])]
        objects["agent_id"] = [Obj(ann_id, {"agent_a"}, ["ann@shop.test"]), Obj(bob_id, {"agent_b"}, ["bob@shop.test"])]
        objects["mail_id"] = [Obj(await _a_mail(server, parties, agents["agent_a"]), set(), ["MAIL-SECRET-TEXT"])]
        # An unsubscribe link's token: a capability, so every holder is its owner.
        token = node.mail.unsubscribe.token(parties["cust_a"].id)
        objects["token"] = [Obj(token, set(parties), ["cust_a-secret@shop.test"])]
        yield World(server, parties, objects, conversations)
    finally:
        await shop.aclose()
        for client in sockets:
            # Read what piled up (the agents' queue and presence frames): a client that stopped
            # reading cannot read the server's answer to its close either.
            await client.quiet(0.05)
            await client.close()


async def _a_mail(server: LiveServer, parties: dict[str, Party], agent: WsClient) -> str:
    """A mail in the queue (a transcript cust_a asked for, sent when the chat closed): the object
    of the admins' mail routes."""
    customer = parties["cust_a"]
    assert customer.socket is not None
    sent = await answer(customer.socket, type="message.send", text="MAIL-SECRET-TEXT")
    conv = sent["conversation_id"]
    async with httpx.AsyncClient(base_url=server.base, headers=customer.headers) as http:
        asked = await http.post(f"/api/v1/conversations/{conv}/transcript", json={"email": "cust_a@shop.test"})
        assert asked.status_code < 300, asked.text
    assert (await answer(agent, type="conversation.take", conversation_id=conv))["type"] == "ack"
    assert (await answer(agent, type="conversation.close", conversation_id=conv))["type"] == "ack"
    async with httpx.AsyncClient(base_url=server.base, headers=parties["admin"].headers) as http:
        for _ in range(100):
            for status in ("queued", "sent"):
                mails = (await http.get("/api/v1/mail", params={"status": status})).json()["mails"]
                if mails:
                    return str(mails[0]["id"])
            await asyncio.sleep(0.1)
    raise AssertionError("the transcript was never queued")


async def _open_chat(customer: WsClient, agent: WsClient, text: str) -> str:
    sent = await answer(customer, type="message.send", text=text)
    assert sent["type"] == "ack", sent
    conv = sent["conversation_id"]
    took = await answer(agent, type="conversation.take", conversation_id=conv)
    assert took["type"] == "ack", took
    await agent.wait_type("resumed", conversation_id=conv)
    note = text.replace("MESSAGE", "NOTE")
    assert (await answer(agent, type="message.send", conversation_id=conv, text=note, private=True))["type"] == "ack"
    return conv


def _leaks(world: World, text: str) -> list[str]:
    return [m for objs in world.objects.values() for o in objs for m in o.marks if m in text]


async def test_every_route_refuses_credentials_that_must_not_reach_it(world: World) -> None:
    failures: list[str] = []
    positive: list[tuple[Endpoint, Party, str]] = []
    async with httpx.AsyncClient(base_url=world.server.base, timeout=30) as http:
        for ep in endpoints():
            missing = missing_fixture(ep, world)
            if missing:
                pytest.fail(f"{ep.method} {ep.path}: no object for path parameter(s) {missing}; add one of each kind"
                            " per party to the `world` fixture of tests/security/test_idor_matrix.py")
            if ep.access.kind == "public" and (ep.method, ep.path) not in PUBLIC:
                failures.append(f"{ep.method} {ep.path} is public but not in PUBLIC: meant to answer strangers?")
            path = path_with(ep, world, lambda param: world.objects[param][0])
            for party in world.parties.values():
                if not denied(ep, party):
                    continue
                r = await http.request(ep.method, path, content=b"{}", headers={
                    **party.headers, "Content-Type": "application/json"})
                if r.status_code not in (401, 403, 404):
                    failures.append(f"{ep.method} {ep.path} as {party.name}: {r.status_code} {r.text[:150]}")
                elif leaked := _leaks(world, r.text):
                    failures.append(f"{ep.method} {ep.path} as {party.name}: refused but the body holds {leaked}")
            if ep.access.kind != "public":
                control = "key:*" if ep.access.kind == "shop" else "cust_a" if ep.access.kind == "caller" else "admin"
                positive.append((ep, world.parties[control], path))
        # The matrix must not pass because everyone is refused: the right party gets through.
        # (Bodies are left invalid, so a 422 proves the access check passed; deletions run last.)
        positive.sort(key=lambda item: item[0].method == "DELETE" or item[0].path == "/api/v1/session/password")
        for ep, party, path in positive:
            r = await http.request(ep.method, path, content=b"[]", headers={
                **party.headers, "Content-Type": "application/json"})
            if r.status_code in (401, 403):
                failures.append(f"control: {ep.method} {ep.path} as {party.name} refused: {r.status_code} {r.text}")
    assert not failures, "\n".join(failures)


async def test_no_route_hands_one_party_another_partys_object(world: World) -> None:
    failures: list[str] = []
    checks = 0
    async with httpx.AsyncClient(base_url=world.server.base, timeout=30) as http:
        for ep in endpoints():
            params = PATH_PARAM.findall(ep.path)
            if not params:
                continue
            missing = missing_fixture(ep, world)
            if missing:
                pytest.fail(f"{ep.method} {ep.path}: no object for path parameter(s) {missing}; add one of each kind"
                            " per party to the `world` fixture of tests/security/test_idor_matrix.py")
            for param in params:
                for obj in world.objects[param]:
                    for party in world.parties.values():
                        if denied(ep, party) or party.name in obj.owners or is_the_shop(ep, party):
                            continue
                        if ep.body is not None and (ep.method, ep.path) not in VALID_BODIES:
                            pytest.fail(f"{ep.method} {ep.path}: {party.name} reaches it with another party's"
                                        f" {param}; add a valid body to VALID_BODIES so the object check is what"
                                        " refuses it")
                        path = path_with(ep, world, lambda p, obj=obj, param=param: obj if p == param
                                         else world.objects[p][0])
                        body = VALID_BODIES.get((ep.method, ep.path))
                        r = await http.request(ep.method, path, json=body, headers=party.headers)
                        checks += 1
                        if r.status_code not in (403, 404):
                            failures.append(f"{ep.method} {path} as {party.name}: {r.status_code} {r.text[:150]}")
                        elif leaked := _leaks(world, r.text):
                            failures.append(f"{ep.method} {path} as {party.name}: refused, but holds {leaked}")
    assert checks >= 6, f"only {checks} cross-party requests: the matrix has gone vacuous"
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------- frames

# For each client frame type that names a conversation: the frame aimed at `conv` (fields other
# than the type), given the sender (a builder may need the sender's own id).
FRAMES: dict[str, Callable[[str, Party], dict[str, Any]]] = {
    "message.send": lambda conv, me: {"client_id": uuid.uuid4().hex, "conversation_id": conv, "text": "INTRUDER"},
    "message.edit": lambda conv, me: {"client_id": uuid.uuid4().hex, "conversation_id": conv, "seq": 1,
                                      "text": "INTRUDER EDIT"},
    "typing": lambda conv, me: {"conversation_id": conv, "active": True},
    "read": lambda conv, me: {"conversation_id": conv, "seq": 1},
    "resume": lambda conv, me: {"conversation_id": conv, "after": 0},
    "conversation.take": lambda conv, me: {"client_id": uuid.uuid4().hex, "conversation_id": conv},
    "conversation.transfer": lambda conv, me: {"client_id": uuid.uuid4().hex, "conversation_id": conv,
                                               "agent_id": me.id or "a_nobody"},
    "conversation.close": lambda conv, me: {"client_id": uuid.uuid4().hex, "conversation_id": conv},
    "conversation.reopen": lambda conv, me: {"client_id": uuid.uuid4().hex, "conversation_id": conv},
    "hello": lambda conv, me: {"resume": {conv: 0}},
    "conversation.rate": lambda conv, me: {"client_id": uuid.uuid4().hex, "conversation_id": conv, "score": 1,
                                           "comment": "INTRUDER RATING"},
}
REFUSED = {"not_found", "forbidden"}
# `conversation.take` of one assigned to someone else tells an agent it is "no longer waiting":
# every agent saw it in the queue, so that reveals nothing new (server/chat/service.py, take).
REFUSED_FOR_AGENTS = {"conversation.take": REFUSED | {"conflict"}}


def names_a_conversation(cls: type) -> bool:
    fields = getattr(cls, "__struct_fields__", ())
    return "conversation_id" in fields or "resume" in fields


async def _snapshot(server: LiveServer, conv: str) -> tuple[Any, ...]:
    row = await server.node.db.fetchone(
        "SELECT status, agent_id, last_seq, preview, (SELECT COUNT(*) FROM events WHERE conversation_id = ?) AS n"
        " FROM conversations WHERE id = ?", (conv, conv))
    assert row is not None
    return tuple(row)


async def test_no_frame_reaches_another_partys_conversation(world: World) -> None:
    server = world.server
    kinds = {c.__struct_config__.tag: c for c in ClientFrame.__args__ if names_a_conversation(c)}
    assert {"message.send", "typing", "resume", "hello"} <= set(kinds)
    unbuilt = sorted(set(kinds) - set(FRAMES))
    assert not unbuilt, (f"client frame type(s) {unbuilt} name a conversation but tests/security/test_idor_matrix.py"
                         " cannot build them: add a builder to FRAMES")
    victims = {"customer": ("cust_a", "cust_b"), "agent": ("agent_a", "cust_b"), "visitor": ("visitor", "cust_a")}
    failures: list[str] = []
    for sender_name, victim in victims.values():
        sender = world.parties[sender_name]
        conv = world.conversations[victim]
        victim_socket = world.parties[victim].socket
        assert victim_socket is not None
        before = await _snapshot(server, conv)
        for tag, build in FRAMES.items():
            got, seen = await _try_frame(world, sender, tag, build(conv, sender), conv)
            allowed = REFUSED_FOR_AGENTS.get(tag, REFUSED) if sender.kind == "agent" else REFUSED
            if got["type"] != "error" or got["code"] not in allowed:
                failures.append(f"{tag} by {sender_name} into {victim}'s conversation: {got}")
            if seen:
                failures.append(f"{tag} by {sender_name}: received {seen[:2]}")
            if await _snapshot(server, conv) != before:
                failures.append(f"{tag} by {sender_name} changed {victim}'s conversation: {before} ->"
                                f" {await _snapshot(server, conv)}")
                before = await _snapshot(server, conv)
        await victim_socket.quiet(0.2)
        typed = [f for f in victim_socket.frames if f["type"] == "typing" and f.get("author_id") == sender.id]
        if typed:
            failures.append(f"{victim} was shown {sender_name} typing: {typed}")
        intruded = [f for f in victim_socket.frames if "INTRUDER" in str(f)]
        if intruded:
            failures.append(f"{victim} received {intruded}")
    assert not failures, "\n".join(failures)


async def _try_frame(
    world: World, sender: Party, tag: str, frame: dict[str, Any], conv: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Send the frame on a new socket of `sender`: the answer to it, and any frame of `conv` seen."""
    def about_it(f: dict[str, Any]) -> bool:
        if "client_id" in frame:
            return f.get("client_id") == frame["client_id"] and f["type"] in ("ack", "error")
        return f["type"] == "error" or f.get("conversation_id") == conv

    if tag == "hello":
        client = await _fresh_socket(world, sender, resume=frame["resume"])
        settled = 0
    else:
        client = await _fresh_socket(world, sender)
        settled = len(client.frames)
        await client.send(type=tag, **frame)
    try:
        got = await client.wait_for(about_it, timeout=5)
        await client.quiet(0.1)
    finally:
        await client.close()
    seen = [f for f in client.frames[settled:] if f.get("conversation_id") == conv and f["type"] != "error"]
    return got, seen


async def _fresh_socket(world: World, party: Party, resume: dict[str, int] | None = None) -> WsClient:
    """A new socket of `party`, its hello resuming `resume` (the frame under test) or, without it,
    a plain hello after which the socket has settled (replays done)."""
    server = world.server
    if party.kind == "agent":
        cookie = party.headers["Cookie"].split("=", 1)[1]
        client = await WsClient.connect(f"{server.ws}/ws/agent", cookie=cookie)
    else:
        client = await WsClient.connect(f"{server.ws}/ws/widget")
    fields: dict[str, Any] = {}
    token = party.headers["Authorization"].split(" ", 1)[1] if party.kind == "customer" else ""
    if party.name == "visitor":
        fields["visitor_token"] = token
    elif party.kind == "customer":
        fields["identity"] = {"user_id": EXTERNAL_IDS[party.name], "token": token}
    if resume is not None:
        fields["resume"] = resume
    welcome = await client.hello(**fields)
    assert welcome["type"] == "welcome", welcome
    if resume is None:
        await client.quiet(0.05)
    return client
