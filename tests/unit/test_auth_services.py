"""The auth services on a real SQLite file: logins (limits reserved before the hash, trusted devices),
accounts (rules, last admin, sessions ended), shop keys, and visitors (nothing stored until they write)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server import streams
from server.auth.accounts import AccountChange, AgentAccounts, NewAccount, PasswordChange
from server.auth.api_keys import ShopKeys
from server.auth.identity import VisitorTokens
from server.auth.login import LoginService
from server.auth.passwords import Passwords
from server.auth.sessions import AgentSessions
from server.broker.memory import MemoryBroker
from server.chat.visitors import Visitors
from server.errors import Problem
from server.protocol import ErrorCode, Identity
from server.settings import Settings
from server.store import Database
from server.store.agents import AgentStore
from server.store.api_keys import ApiKeyStore
from server.store.customers import CustomerStore
from server.store.sessions import SessionStore
from tests.support.shop import SHOP_SECRET, customer_token

CHEAP = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}


@dataclasses.dataclass
class Auth:
    db: Database
    broker: MemoryBroker
    published: list[tuple[str, bytes]]
    sessions: AgentSessions
    logins: LoginService
    accounts: AgentAccounts
    keys: ShopKeys
    visitors: Visitors


@pytest.fixture
async def auth(tmp_path: Path) -> AsyncIterator[Auth]:
    settings = Settings(database_path=str(tmp_path / "r.db"), login_attempts_per_account=3,
                        login_attempts_per_address=5, admin_password="console-pass-1", **CHEAP)
    db = Database(settings.database_path)
    await db.open()
    broker = MemoryBroker()
    published: list[tuple[str, bytes]] = []
    broker.set_handlers(lambda channel, data: published.append((channel, data)))
    await broker.connect()
    agents, store = AgentStore(db), SessionStore(db)
    passwords = Passwords(settings)
    sessions = AgentSessions(store, broker, ["k"], 3600)
    accounts = AgentAccounts(agents, passwords, sessions, settings)
    await accounts.ensure_first_admin()
    visitors = Visitors(CustomerStore(db), VisitorTokens(["k"], 3600), broker, settings, SHOP_SECRET)
    try:
        yield Auth(db, broker, published, sessions, LoginService(agents, store, passwords, sessions, settings),
                   accounts, ShopKeys(ApiKeyStore(db)), visitors)
    finally:
        await broker.close()
        await db.close()


async def _refused(code: ErrorCode, call: object) -> Problem:
    with pytest.raises(Problem) as caught:
        await call  # type: ignore[misc]
    assert caught.value.code == code, caught.value.message
    return caught.value


async def test_a_login_gets_a_session_its_cookie_authenticates(auth: Auth) -> None:
    done = await auth.logins.login("Admin@Example.com", "console-pass-1", address="10.0.0.1", device_cookie=None)
    assert done.session.agent.role == "admin"
    assert (await auth.sessions.authenticate(done.cookie)) == done.session
    assert await auth.sessions.authenticate(done.cookie + "x") is None


async def test_wrong_passwords_exhaust_the_account_but_not_a_trusted_device(auth: Auth) -> None:
    trusted = (await auth.logins.login("admin@example.com", "console-pass-1", address="10.0.0.1",
                                       device_cookie=None)).device_cookie
    for _ in range(3):
        await _refused(ErrorCode.UNAUTHORIZED, auth.logins.login(
            "admin@example.com", "wrong-password-x", address=f"10.9.0.{_}", device_cookie=None))
    # A stranger's device: locked out, even with the right password.
    await _refused(ErrorCode.RATE_LIMITED, auth.logins.login(
        "admin@example.com", "console-pass-1", address="10.9.1.1", device_cookie=None))
    # The admin's own device keeps its own limit.
    done = await auth.logins.login("admin@example.com", "console-pass-1", address="10.0.0.1", device_cookie=trusted)
    assert done.session.agent.email == "admin@example.com"


async def test_unknown_accounts_count_against_the_address(auth: Auth) -> None:
    for n in range(5):
        await _refused(ErrorCode.UNAUTHORIZED, auth.logins.login(
            f"nobody{n}@shop.test", "console-pass-1", address="10.7.7.7", device_cookie=None))
    await _refused(ErrorCode.RATE_LIMITED, auth.logins.login(
        "admin@example.com", "console-pass-1", address="10.7.7.7", device_cookie=None))


async def test_accounts_follow_the_rules_and_keep_an_admin(auth: Auth) -> None:
    await _refused(ErrorCode.INVALID_REQUEST, auth.accounts.create(
        NewAccount(email="sam@shop.test", name="Sam", password="password1234")))
    sam = await auth.accounts.create(NewAccount(email="sam@shop.test", name="Sam", password="lantern-river-7"))
    await _refused(ErrorCode.CONFLICT, auth.accounts.create(
        NewAccount(email="SAM@shop.test", name="Sam again", password="lantern-river-7")))
    admin = next(a for a in await auth.accounts.everyone() if a.role == "admin")
    await _refused(ErrorCode.CONFLICT, auth.accounts.change(admin.id, admin.id, AccountChange(role="agent")))
    changed = await auth.accounts.change(admin.id, sam.id, AccountChange(max_concurrent=9, name="Samantha"))
    assert (changed.max_concurrent, changed.name) == (9, "Samantha")


async def test_deactivating_ends_the_sessions_and_tells_their_sockets(auth: Auth) -> None:
    admin = next(a for a in await auth.accounts.everyone() if a.role == "admin")
    sam = await auth.accounts.create(NewAccount(email="sam@shop.test", name="Sam", password="lantern-river-7"))
    done = await auth.logins.login("sam@shop.test", "lantern-river-7", address="10.0.0.2", device_cookie=None)
    await auth.broker.subscribe(streams.agent(sam.id))  # as the hub does for Sam's sockets
    await auth.accounts.change(admin.id, sam.id, AccountChange(disabled=True))
    assert await auth.sessions.authenticate(done.cookie) is None
    ends = [data for channel, data in auth.published if channel == streams.agent(sam.id)]
    assert any(data.startswith(b"x:" + done.session.id.encode() + b":") for data in ends), ends


async def test_a_password_change_keeps_this_session_and_ends_the_others(auth: Auth) -> None:
    here = await auth.logins.login("admin@example.com", "console-pass-1", address="10.0.0.1", device_cookie=None)
    there = await auth.logins.login("admin@example.com", "console-pass-1", address="10.0.0.3", device_cookie=None)
    await _refused(ErrorCode.FORBIDDEN, auth.accounts.change_password(
        here.session, PasswordChange(current_password="nope", new_password="harbour-lights-42")))
    await auth.accounts.change_password(
        here.session, PasswordChange(current_password="console-pass-1", new_password="harbour-lights-42"))
    assert await auth.sessions.authenticate(here.cookie) is not None
    assert await auth.sessions.authenticate(there.cookie) is None


async def test_shop_keys_hold_their_scopes_until_revoked(auth: Auth) -> None:
    key, token = await auth.keys.create("shop", ["orders"])
    assert (await auth.keys.authenticate(token, "orders")).id == key.id
    await _refused(ErrorCode.FORBIDDEN, auth.keys.authenticate(token, "campaigns"))
    await auth.keys.revoke(key.id)
    await _refused(ErrorCode.UNAUTHORIZED, auth.keys.authenticate(token, "orders"))
    await _refused(ErrorCode.NOT_FOUND, auth.keys.revoke(key.id))


async def test_a_visitor_is_stored_only_once_they_write_and_loses_the_token_on_login(auth: Auth) -> None:
    visitor = auth.visitors.new_visitor()
    token = auth.visitors.token_for(visitor)
    assert await auth.visitors.visitor_of(token) == visitor
    row = await auth.db.fetchone("SELECT COUNT(*) AS n FROM customers")
    assert row is not None and row["n"] == 0  # nothing stored for a visitor who only looks
    await auth.broker.subscribe(streams.customer(visitor))  # as the hub does for the visitor's sockets
    verified = auth.visitors.verify(Identity(user_id="u-1", token=customer_token("u-1")))
    record = await auth.visitors.identify(verified, visitor)
    assert (record.id, record.external_id) == (visitor, "u-1")
    assert await auth.visitors.visitor_of(token) is None  # the token no longer opens anything
    assert (streams.customer(visitor), b"x:visitor:") in [(c, d[:10]) for c, d in auth.published]
