"""Validates frames seen on the wire against the published AsyncAPI document."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from server import protocol, schema

_DOC = json.loads((schema.DOCS_DIR / "asyncapi.json").read_text())
_SERVER = {c.__struct_config__.tag: c.__name__ for c in protocol.ServerFrame.__args__}
_CLIENT = {c.__struct_config__.tag: c.__name__ for c in protocol.ClientFrame.__args__}


def validate(frame: dict[str, Any], direction: str = "server") -> None:
    """Raise jsonschema.ValidationError unless `frame` matches its published schema."""
    names = _SERVER if direction == "server" else _CLIENT
    name = names[frame["type"]]
    wrapper = {"$ref": f"#/components/schemas/{name}", "components": _DOC["components"]}
    jsonschema.Draft202012Validator(wrapper).validate(frame)
