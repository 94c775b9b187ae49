"""The published protocol and settings documents are generated from the code and never stale."""

from __future__ import annotations

import json

import jsonschema

from server import protocol, schema
from server.settings import DOCS, Settings


def test_published_documents_are_fresh() -> None:
    assert schema.main(["--check"]) == 0, "run `python -m server.schema` and commit docs/"


def test_every_setting_is_documented() -> None:
    assert set(DOCS) == set(Settings.__struct_fields__)
    table = (schema.DOCS_DIR / "settings.md").read_text()
    for var, _meaning in DOCS.values():
        assert f"`{var}`" in table


def test_asyncapi_lists_every_frame_and_close_code() -> None:
    doc = json.loads((schema.DOCS_DIR / "asyncapi.json").read_text())
    names = {m["name"] for m in doc["components"]["messages"].values()}
    tags = {c.__struct_config__.tag for c in (*protocol.ClientFrame.__args__, *protocol.ServerFrame.__args__)}
    assert names == tags
    assert doc["x-close-codes"]["4001"] == {"name": "SLOW_CONSUMER", "reconnect": True}
    assert doc["x-close-codes"]["4500"]["reconnect"] is False
    # Every payload schema is itself a valid JSON Schema.
    for message in doc["components"]["messages"].values():
        jsonschema.Draft202012Validator.check_schema(message["payload"])
