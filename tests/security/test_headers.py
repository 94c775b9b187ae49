"""Point 9: security headers on every HTML and API response. A same-site page framed the logged-in
console (clickjacking); nothing said no sniffing, no referrer, no inline script."""

from __future__ import annotations

import httpx
import pytest

from tests.support.live import ROOT, LiveServer


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = [w.lower() for w in words[1:]]
    return out


def assert_not_framable(r: httpx.Response, what: str) -> None:
    assert r.headers.get("x-frame-options", "").upper() == "DENY", (what, dict(r.headers))
    csp = directives(r.headers.get("content-security-policy", ""))
    assert csp.get("frame-ancestors") == ["'none'"], (what, r.headers.get("content-security-policy"))


def assert_hardened(r: httpx.Response, what: str) -> None:
    assert_not_framable(r, what)
    assert r.headers.get("x-content-type-options", "").lower() == "nosniff", (what, dict(r.headers))
    assert r.headers.get("referrer-policy", "").lower() in (
        "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"), (what, dict(r.headers))


async def test_every_kind_of_response_carries_the_security_headers(server: LiveServer) -> None:
    cases = {
        "the console": ("GET", "/console", 200),
        "a console asset": ("GET", "/console/console.js", 200),
        "the demo shop page": ("GET", "/", 200),
        "the OpenAPI document": ("GET", "/openapi.json", 200),
        "an API problem (401)": ("GET", "/api/v1/session", 401),
        "an API 404": ("GET", "/api/v1/nothing-here", 404),
        "a 404 page": ("GET", "/no/such/page", 404),
        "a 405": ("DELETE", "/openapi.json", 405),
        "health": ("GET", "/healthz", 200),
    }
    async with httpx.AsyncClient(base_url=server.base) as http:
        for what, (method, path, status) in cases.items():
            r = await http.request(method, path)
            assert r.status_code == status, (what, r.status_code, r.text[:200])
            assert_hardened(r, what)


async def test_the_console_runs_no_inline_script(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        for path in ("/console", "/console/", "/console/index.html"):
            r = await http.get(path)
            if r.status_code != 200:
                continue
            csp = directives(r.headers["content-security-policy"])
            scripts = csp.get("script-src", csp.get("default-src"))
            assert scripts, (path, r.headers["content-security-policy"])
            assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, (path, scripts)
            assert "*" not in scripts and "data:" not in scripts, (path, scripts)
            assert directives(r.headers["content-security-policy"]).get("object-src") == ["'none'"]
            assert csp.get("base-uri") in (["'none'"], ["'self'"]), csp


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "static" / "widget").glob("*.js")))
async def test_widget_scripts_load_cross_origin_but_cannot_be_framed(server: LiveServer, script: str) -> None:
    async with httpx.AsyncClient(base_url=server.base) as http:
        r = await http.get(f"/widget/{script}", headers={"Origin": "https://shop.example"})
    assert r.status_code == 200
    assert r.headers.get("access-control-allow-origin") == "*"
    assert "access-control-allow-credentials" not in r.headers  # public files, never with cookies
    assert r.headers.get("content-type", "").split(";")[0] in ("text/javascript", "application/javascript")
    assert_hardened(r, script)


async def test_api_responses_are_not_cached_and_not_readable_cross_origin(server: LiveServer) -> None:
    cookie = await server.login()
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": "https://evil.shop.test"}) as http:
        http.cookies.set("rapport_session", cookie)
        r = await http.get("/api/v1/session")
    assert r.status_code == 200
    assert "no-store" in r.headers.get("cache-control", "")
    assert "access-control-allow-origin" not in r.headers, dict(r.headers)
