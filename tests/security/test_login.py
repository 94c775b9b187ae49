"""Points 1 and 8: password guessing against the console login (CVE-2022-3741), lockout on
demand, and account discovery by timing."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import StartLiveServer
from tests.security.conftest import from_address
from tests.support.live import ADMIN_EMAIL, ADMIN_PASSWORD, AGENT_PASSWORD, LiveServer, test_settings

LOGIN = "/api/v1/session"


async def test_a_burst_of_40_guesses_gets_no_more_tries_than_the_limit(
    tmp_path: Path, live_server_factory: StartLiveServer
) -> None:
    # A hash of ~20 ms (with at most two at once): the burst is in flight together, which is
    # what let 39 guesses through when failures were counted after the hash.
    server = await live_server_factory(test_settings(tmp_path, argon2_memory_kib=16384, argon2_time_cost=2))
    limit = server.settings.login_attempts_per_account
    async with httpx.AsyncClient(base_url=server.base, timeout=30,
                                 limits=httpx.Limits(max_connections=50)) as http:
        async def attempt(password: str, delay: float = 0.0) -> httpx.Response:
            await asyncio.sleep(delay)
            return await http.post(LOGIN, json={"email": ADMIN_EMAIL, "password": password},
                                   headers=from_address("203.0.113.10"))

        answers = await asyncio.gather(
            *(attempt(f"guess-number-{n:02d}") for n in range(39)),
            attempt(ADMIN_PASSWORD, delay=0.1),  # the right one, last
        )
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= limit, f"{statuses[401]} guesses were checked (limit {limit}): {statuses}"
    assert answers[-1].status_code == 429, "the right password got in within the burst"
    assert "set-cookie" not in answers[-1].headers
    # Every refusal says the same thing whatever the reason (no account discovery by wording).
    assert {r.json()["code"] for r in answers} <= {"unauthorized", "rate_limited"}
    assert await server.node.db.fetchone("SELECT 1 FROM agent_sessions") is None


async def test_spraying_one_password_across_40_accounts_is_cut_off_per_address(
    tmp_path: Path, live_server_factory: StartLiveServer
) -> None:
    server = await live_server_factory(test_settings(tmp_path, login_attempts_per_address=8))
    emails = [f"staff{n}@shop.test" for n in range(40)]
    other_hash = server.node.passwords.hash_now("a-different-passphrase")
    for n, email in enumerate(emails[:-1]):
        await server.node._agents.create(email=email, name=f"Staff {n}", role="agent", max_concurrent=5,
                                        password_hash=other_hash)
    # The last account tried has the sprayed password: without a per-address limit it falls.
    await server.add_agent(emails[-1], "Staff 39")
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        statuses = []
        for email in emails:
            r = await http.post(LOGIN, json={"email": email, "password": AGENT_PASSWORD},
                                headers=from_address("198.51.100.23"))
            statuses.append(r.status_code)
        # Someone else, elsewhere, is not affected by that address's limit.
        other = await http.post(LOGIN, json={"email": emails[-1], "password": AGENT_PASSWORD},
                                headers=from_address("192.0.2.77"))
    assert statuses == [401] * 8 + [429] * 32, statuses
    assert other.status_code == 200, other.text


async def test_a_stranger_cannot_lock_the_admin_out(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as admin_browser:
        first = await admin_browser.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert first.status_code == 200
        device = first.cookies.get("rapport_device")
        assert device, first.headers.get_list("set-cookie")
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as stranger:
            guesses = Counter()
            for n in range(server.settings.login_attempts_per_account + 5):
                r = await stranger.post(LOGIN, json={"email": ADMIN_EMAIL, "password": f"guess {n}"},
                                        headers=from_address("203.0.113.66"))
                guesses[r.status_code] += 1
            assert guesses[429] >= 5, guesses  # the account's limit for strangers holds
            # A browser without the device cookie (another stranger, elsewhere) is refused too.
            r = await stranger.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                                    headers=from_address("203.0.113.67"))
            assert r.status_code == 429, r.text
        # The admin's own browser, which logged in before, still gets in.
        admin_browser.cookies.clear()
        r = await admin_browser.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                                     headers={"Cookie": f"rapport_device={device}"})
        assert r.status_code == 200, r.text


async def test_a_device_cookie_of_another_account_buys_no_tries(server: LiveServer) -> None:
    await server.add_agent("ben@shop.test", "Ben")
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as mallory:
        own = await mallory.post(LOGIN, json={"email": "ben@shop.test", "password": AGENT_PASSWORD})
        device = own.cookies.get("rapport_device")
        assert device
        mallory.cookies.clear()
        statuses = Counter()
        for n in range(server.settings.login_attempts_per_account + 5):
            r = await mallory.post(LOGIN, json={"email": ADMIN_EMAIL, "password": f"guess {n}"},
                                   headers={"Cookie": f"rapport_device={device}"})
            statuses[r.status_code] += 1
    assert statuses[401] <= server.settings.login_attempts_per_account, statuses


@pytest.mark.timeout(60)
async def test_an_unknown_email_takes_as_long_to_refuse_as_a_wrong_password(
    tmp_path: Path, live_server_factory: StartLiveServer
) -> None:
    server = await live_server_factory(test_settings(
        tmp_path, argon2_memory_kib=16384, argon2_time_cost=2,
        login_attempts_per_account=100, login_attempts_per_address=100,
    ))
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        async def timed(email: str) -> float:
            began = time.perf_counter()
            r = await http.post(LOGIN, json={"email": email, "password": "not-the-password"})
            took = time.perf_counter() - began
            assert r.status_code == 401, r.text
            return took

        await timed("warm-up@nowhere.test")
        await timed(ADMIN_EMAIL)
        known, unknown = [], []
        for n in range(10):
            known.append(await timed(ADMIN_EMAIL))
            unknown.append(await timed(f"nobody{n}@nowhere.test"))
    known_ms, unknown_ms = statistics.median(known) * 1000, statistics.median(unknown) * 1000
    assert known_ms > 5, f"the hash is too cheap to tell ({known_ms:.1f} ms): the test proves nothing"
    assert unknown_ms >= 0.5 * known_ms, f"unknown e-mail {unknown_ms:.1f} ms, known {known_ms:.1f} ms"
