"""Point 12: bad lines in a customer import (a cell past Python's csv limit, a deeply nested JSON
cell) are reported with their line numbers while the good ones are imported; deeply nested JSON
to any JSON route is a 4xx, never a 500."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from server.api.routes import endpoints
from tests.support.live import LiveServer

DEEP = 5000  # past the JSON decoders' recursion limit, within every body limit (16 KiB)


@pytest.fixture
async def shop(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    _key, token = await server.node.shop_keys.create("shop", ["customers"])
    async with httpx.AsyncClient(base_url=server.base, headers={"Authorization": f"Bearer {token}"},
                                 timeout=30) as http:
        yield http


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


async def test_a_csv_with_bad_lines_imports_the_good_ones_and_reports_the_bad(
    server: LiveServer, shop: httpx.AsyncClient
) -> None:
    text = csv_text([
        ["id", "name", "email", "attributes"],
        ["good-1", "Ann Good", "ann@shop.test", '{"size": "M"}'],                      # line 2
        ["huge-cell", "x" * 140_000, "huge@shop.test", ""],                           # line 3
        ["deep-object", "Deep", "deep@shop.test", '{"a":' * DEEP + "1" + "}" * DEEP],  # line 4
        ["deep-array", "Deep", "deep2@shop.test", "[" * DEEP + "]" * DEEP],            # line 5
        ["not-an-object", "List", "list@shop.test", "[1, 2, 3]"],                      # line 6
        ["good-2", "Bob Good", "bob@shop.test", ""],                                  # line 7
    ])
    r = await shop.post("/api/v1/customers/import", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text[:500]
    result = r.json()
    assert result["created"] == 2, result
    assert sorted(e["line"] for e in result["errors"]) == [3, 4, 5, 6], result["errors"]
    assert all(len(e["reason"]) < 1000 for e in result["errors"]), "a reason echoes the whole bad cell"
    for external_id in ("good-1", "good-2"):
        assert (await shop.get(f"/api/v1/customers/{external_id}")).status_code == 200
    for external_id in ("huge-cell", "deep-object", "deep-array", "not-an-object"):
        assert (await shop.get(f"/api/v1/customers/{external_id}")).status_code == 404


async def test_json_lines_with_bad_lines_import_the_good_ones(server: LiveServer, shop: httpx.AsyncClient) -> None:
    lines = [
        json.dumps({"id": "j-good-1", "name": "Cleo"}),                                     # line 1
        '{"id": "j-deep", "attributes": ' + '{"a":' * DEEP + "1" + "}" * DEEP + "}",         # line 2
        '{"id": "j-deep-2", "tags": ' + "[" * DEEP + "]" * DEEP + "}",                       # line 3
        json.dumps({"id": "j-long", "name": "y" * 200_000}),                                # line 4
        "{not json",                                                                        # line 5
        json.dumps({"id": "j-good-2", "name": "Dan"}),                                      # line 6
    ]
    r = await shop.post("/api/v1/customers/import", content="\n".join(lines).encode(),
                        headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text[:500]
    result = r.json()
    assert result["created"] == 2, result
    assert sorted(e["line"] for e in result["errors"]) == [2, 3, 4, 5], result["errors"]


async def test_deeply_nested_json_to_every_json_route_is_a_client_error(server: LiveServer) -> None:
    """Generated from the endpoint registry: every route that reads a JSON body."""
    bodies = {
        "nested arrays": "[" * DEEP + "]" * DEEP,
        "nested objects": '{"a":' * DEEP + "1" + "}" * DEEP,
        "nested in a field": '{"name": ' + "[" * DEEP + "]" * DEEP + "}",
        # Segment rules nest by design (`all`/`any`): a typed decoder recurses as deep as they go.
        "nested rules": '{"all": [' * DEEP + "{}" + "]}" * DEEP,
        "nested rules in a segment": '{"name": "deep", "rules": ' + '{"any": [' * DEEP + "{}" + "]}" * DEEP + "}",
    }
    async with httpx.AsyncClient(base_url=server.base, headers={"Origin": server.base}, timeout=30) as http:
        http.cookies.set("rapport_session", await server.login())
        checked = 0
        for ep in endpoints():
            if ep.body is None:
                continue
            path = re.sub(r"{(\w+)(?::\w+)?}", "x1", ep.path)
            for what, body in bodies.items():
                r = await http.request(ep.method, path, content=body.encode(),
                                       headers={"Content-Type": "application/json"})
                assert 400 <= r.status_code < 500, f"{ep.method} {ep.path} ({what}): {r.status_code} {r.text[:200]}"
            checked += 1
        assert checked >= 15
        # Still logged in: the password-change route took nothing from it either.
        assert (await http.get("/api/v1/session")).status_code == 200
