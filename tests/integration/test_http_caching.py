"""gzip negotiated for pages, scripts, styles and JSON; Cache-Control on static files; the widget's own
files and WebSocket handshakes left alone."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import msgspec
from websockets.asyncio.client import connect

from tests.support.client import WsClient
from tests.support.live import LiveServer, test_settings

GZIP = {"Accept-Encoding": "gzip"}


class Raw:
    """A response as it went over the wire: status, headers, body undecoded."""

    def __init__(self, response: httpx.Response, body: bytes) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.content = body


async def get(server: LiveServer, path: str, headers: dict[str, str] | None = None) -> Raw:
    async with httpx.AsyncClient(base_url=server.base) as http:
        request = http.build_request("GET", path, headers={"Accept-Encoding": "identity", **(headers or {})})
        response = await http.send(request, stream=True)
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return Raw(response, body)


async def test_pages_scripts_styles_and_json_are_gzipped_when_asked(server: LiveServer) -> None:
    # The console's own page is a few hundred bytes (under the 500 worth compressing): its screens are not.
    for path, kind in (("/", "text/html"), ("/console/screens/inbox/transcript.js", "javascript"),
                       ("/console/console.css", "text/css"), ("/openapi.json", "application/json")):
        plain = await get(server, path)
        zipped = await get(server, path, GZIP)
        assert zipped.status_code == plain.status_code == 200, path
        assert kind in zipped.headers["content-type"], path
        assert zipped.headers.get("content-encoding") == "gzip", path
        assert "accept-encoding" in zipped.headers["vary"].lower(), path
        assert "content-encoding" not in plain.headers, path
        body = gzip.decompress(zipped.content)
        assert body == plain.content and len(zipped.content) < len(body), path


async def test_api_json_is_gzipped_and_tiny_answers_are_not(server: LiveServer) -> None:
    cookie = await server.login()
    headers = {**GZIP, "Cookie": f"rapport_session={cookie}"}
    for n in range(12):
        await server.add_agent(f"agent{n}@shop.test", f"Agent Number {n}")
    big = await get(server, "/api/v1/agents", headers)
    assert big.status_code == 200 and big.headers["content-encoding"] == "gzip"
    assert msgspec.json.decode(gzip.decompress(big.content))
    small = await get(server, "/healthz", GZIP)  # under 500 bytes: not worth it
    assert small.status_code == 200 and "content-encoding" not in small.headers


async def test_static_files_carry_cache_control_and_revalidate(server: LiveServer) -> None:
    for path in ("/", "/console", "/console/app.js", "/console/console.css", "/static/demo/index.html"):
        r = await get(server, path)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-cache", path
    first = await get(server, "/console/app.js")
    again = await get(server, "/console/app.js", {"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "no-cache"


async def test_the_widgets_files_are_not_compressed_here(server: LiveServer) -> None:
    # Its own module (issue 10) compresses and caches /widget/: never twice.
    r = await get(server, "/widget/widget.js", GZIP)
    assert r.status_code == 200
    assert r.headers.get("content-encoding") in (None, "gzip")
    if r.headers.get("content-encoding") == "gzip":
        assert gzip.decompress(r.content)[:1] != b"\x1f"  # decompressed once, it is the script


async def test_websocket_handshakes_pass_untouched_with_gzip_offered(tmp_path: Path,
                                                                    live_server_factory: object) -> None:
    # uvicorn's own protocol (not the lean one) sends every handshake through the app's middleware.
    for lean in (True, False):
        live: LiveServer = await live_server_factory(  # type: ignore[operator]
            test_settings(tmp_path / str(lean), lean_websockets=lean))
        ws = await connect(f"{live.ws}/ws/widget", additional_headers={"Accept-Encoding": "gzip"}, compression=None)
        assert ws.response is not None
        assert ws.response.status_code == 101
        assert "Content-Encoding" not in ws.response.headers
        client = WsClient(ws)
        welcome = await client.hello()
        assert welcome["type"] == "welcome"
        await client.close()
