"""Fuzzing the client frame decoder (server.protocol.decode_client_frame) and a live widget socket:
whatever a client sends, the decoder returns a frame or raises FrameError with a code, and the
socket answers it (an error frame, or the frame's effect) and stays open."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from websockets.exceptions import ConnectionClosed

from server.protocol import ClientFrame, ErrorCode, FrameError, decode_client_frame
from tests.security.conftest import close_code, widget
from tests.support.client import WsClient
from tests.support.live import LiveServer, test_settings

FRAME_TYPES = {c.__struct_config__.tag: c for c in ClientFrame.__args__}
CODES = set(ErrorCode)

# One well-formed frame of each type, to mutate field by field. A new frame type without one
# fails test_every_frame_type_has_an_example: add it here.
EXAMPLES: dict[str, dict[str, Any]] = {
    "hello": {"visitor_token": "t", "resume": {"c_1": 3}, "inbox": 0, "epoch": "e",
              "identity": {"user_id": "u-1", "token": "x.y.z"}},
    "message.send": {"client_id": "m1", "text": "hi", "conversation_id": "c_1", "private": False},
    "message.edit": {"client_id": "m2", "conversation_id": "c_1", "seq": 1, "text": "hi"},
    "typing": {"conversation_id": "c_1", "active": True},
    "read": {"conversation_id": "c_1", "seq": 2},
    "resume": {"conversation_id": "c_1", "after": 0},
    "conversation.take": {"client_id": "m3", "conversation_id": "c_1"},
    "conversation.transfer": {"client_id": "m4", "conversation_id": "c_1", "agent_id": "a_1"},
    "conversation.close": {"client_id": "m5", "conversation_id": "c_1"},
    "conversation.reopen": {"client_id": "m6", "conversation_id": "c_1"},
    "presence.set": {"status": "away"},
    "notification.track": {"seq": 1, "action": "opened"},
    "page.view": {"url": "https://shop.example/p/1", "title": "P1"},
    "track": {"name": "added_to_cart", "props": {"sku": "X", "qty": 2}},
}

json_scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**400), max_value=10**400)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=30)
FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(raw: str | bytes) -> str:
    """What decoding `raw` came to: the frame's type, or `error:<code>`; anything else fails."""
    try:
        frame = decode_client_frame(raw)
    except FrameError as exc:
        assert exc.code in CODES, exc.code
        assert isinstance(exc.message, str)
        assert exc.client_id is None or (isinstance(exc.client_id, str) and len(exc.client_id) <= 64)
        return f"error:{exc.code}"
    assert isinstance(frame, ClientFrame.__args__), type(frame)
    return frame.__struct_config__.tag


def nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def test_every_frame_type_has_an_example() -> None:
    missing = sorted(set(FRAME_TYPES) - set(EXAMPLES))
    assert not missing, f"frame type(s) {missing}: add a well-formed example to EXAMPLES in {__name__}"
    for tag, fields in EXAMPLES.items():
        assert outcome(json.dumps({"type": tag, **fields})) == tag, tag


@FUZZ
@given(json_values)
def test_any_json_value_decodes_or_is_refused_with_a_code(value: Any) -> None:
    outcome(json.dumps(value))


@FUZZ
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6), st.sampled_from(sorted(FRAME_TYPES)))
def test_any_object_with_a_known_type_decodes_or_is_refused(fields: dict[str, Any], tag: str) -> None:
    outcome(json.dumps({**fields, "type": tag}))


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused(raw: bytes) -> None:
    outcome(raw)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_decodes_or_is_refused(raw: str) -> None:
    outcome(raw)


@FUZZ
@given(st.sampled_from(sorted(EXAMPLES)), st.data())
def test_a_wrong_value_in_any_field_is_refused_with_a_code(tag: str, data: st.DataObject) -> None:
    fields = dict(EXAMPLES[tag])
    field = data.draw(st.sampled_from(sorted(fields)))
    fields[field] = data.draw(json_values)
    outcome(json.dumps({"type": tag, **fields}))


@FUZZ
@given(st.sampled_from(sorted(EXAMPLES)), st.one_of(
    st.integers(min_value=2**53 + 1, max_value=10**4000), st.integers(max_value=-1, min_value=-(10**4000))))
def test_huge_numbers_in_any_field_are_refused(tag: str, number: int) -> None:
    for field in EXAMPLES[tag]:
        raw = json.dumps({"type": tag, **EXAMPLES[tag]}).replace(
            json.dumps(EXAMPLES[tag][field]), str(number), 1)
        outcome(raw)
    outcome('{"type": "read", "conversation_id": "c_1", "seq": 1e999}')


@pytest.mark.parametrize("depth", [1000, 3000, 20000])
@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("where", ["the whole frame", "an unknown field", "a known field", "an unknown type"])
def test_deeply_nested_json_is_refused_with_a_code(depth: int, kind: str, where: str) -> None:
    value = nested(depth, kind)
    raw = {
        "the whole frame": value,
        "an unknown field": '{"type": "typing", "conversation_id": "c_1", "x": ' + value + "}",
        "a known field": '{"type": "track", "name": "n", "props": ' + value + "}",
        "an unknown type": '{"type": "nope", "x": ' + value + "}",
    }[where]
    assert outcome(raw).startswith("error:")


# ---------------------------------------------------------------------------------- live


def fuzzed_frames(seed: int, count: int) -> list[str | bytes]:
    """A reproducible mix: mutated well-formed frames, random JSON, garbage, deep nesting, binary."""
    rng = random.Random(seed)

    def value(depth: int = 0) -> Any:
        pick = rng.randrange(9 if depth < 3 else 6)
        if pick == 0:
            return None
        if pick == 1:
            return rng.choice([True, False])
        if pick == 2:
            return rng.choice([0, -1, 1, 2**53, 2**53 + 1, 10**30, -(10**30), rng.randrange(-1000, 1000)])
        if pick == 3:
            return rng.choice([0.5, -1e308, 1e308, 3.0])
        if pick in (4, 5):
            return "".join(rng.choice("ab\u00e9\u4e2d\U0001f600\x00\"\\{}[]<>") for _ in range(rng.randrange(0, 80)))
        if pick in (6, 7):
            return [value(depth + 1) for _ in range(rng.randrange(0, 4))]
        return {rng.choice(["type", "text", "seq", "x", "client_id", "conversation_id"]): value(depth + 1)
                for _ in range(rng.randrange(0, 4))}

    frames: list[str | bytes] = []
    for n in range(count):
        pick = n % 10
        if pick < 5:
            tag = rng.choice(sorted(EXAMPLES))
            if tag == "hello":
                tag = "typing"
            fields = dict(EXAMPLES[tag])
            if "client_id" in fields:
                fields["client_id"] = uuid.uuid4().hex
            if rng.random() < 0.7:
                fields[rng.choice(sorted(fields))] = value()
            if rng.random() < 0.2:
                fields[rng.choice(["extra", "name", "email"])] = value()
            frames.append(json.dumps({"type": tag, **fields}))
        elif pick < 7:
            frames.append(json.dumps(value()))
        elif pick == 7:
            frames.append(rng.choice(["", "{", "}", "null", "[]", '{"type":', "\ufffd", "{" * 50, '{"type": 1}',
                                      "nul\x00l"]))
        elif pick == 8:
            frames.append(rng.choice([b"\x00\x01binary", b"{\"type\": \"typing\"}"]))
        else:
            frames.append(rng.choice([
                '{"type": "track", "name": "n", "props": ' + nested(2000, "array") + "}",
                nested(3000, rng.choice(["array", "object"])),
                '{"type": "typing", "conversation_id": "c", "x": ' + nested(1500, "object") + "}",
            ]))
    return frames


async def test_a_live_widget_socket_answers_every_fuzzed_frame_and_stays_open(
    tmp_path: Any, live_server_factory: Any
) -> None:
    server: LiveServer = await live_server_factory(test_settings(
        tmp_path, rate_per_second=100000.0, rate_burst=100000, max_open_conversations=100,
        new_conversations_per_visitor=100, new_conversations_per_address=100))
    client = await widget(server)
    assert client.welcome["type"] == "welcome"
    failures: list[str] = []
    for n, raw in enumerate(fuzzed_frames(seed=7, count=300)):
        before = len(client.frames)
        if isinstance(raw, bytes):
            await client.ws.send(raw)
            expected: str | None = f"error:{ErrorCode.INVALID_FRAME}"
        else:
            await client.ws.send(raw)
            try:
                expected = outcome(raw)
                expected = expected if expected.startswith("error:") else None
            except RecursionError:  # the decoder's own failure: the server must still answer
                expected = "error:"
        # A marker frame after each: everything before its answer is the fuzzed frame's.
        marker = f"c_marker_{n}"
        await client.send(type="resume", conversation_id=marker, after=0)
        try:
            await client.wait_for(lambda f, m=marker: f["type"] == "error" and m in f.get("message", ""), timeout=5)
        except (TimeoutError, ConnectionClosed) as exc:
            code = await close_code(client, 0.5)
            failures.append(f"frame {n} {str(raw)[:80]!r}: no answer ({type(exc).__name__}), closed with {code}")
            client = await widget(server)  # go on with the rest on a new socket
            continue
        answers = [f for f in client.frames[before:] if not (f["type"] == "error" and marker in f["message"])]
        errors = [f for f in answers if f["type"] == "error"]
        if any(e["code"] == "internal" for e in errors):
            failures.append(f"frame {n} {str(raw)[:80]!r}: internal error {errors}")
        if expected is not None and not any(f"error:{e['code']}".startswith(expected) for e in errors):
            failures.append(f"frame {n} {str(raw)[:80]!r}: expected {expected}, got {answers[:3]}")
    assert not failures, "\n".join(failures[:15])
    # Still a working socket: it chats.
    sent = await client.send_message("still here")
    assert sent["type"] == "ack", sent


@pytest.mark.parametrize("endpoint", ["widget", "agent"])
@pytest.mark.parametrize("kind", ["array", "object"])
async def test_a_deeply_nested_hello_is_refused_cleanly(server: LiveServer, endpoint: str, kind: str) -> None:
    """The first frame too: answered with an error and a close code, not a crashed session."""
    cookie = await server.login() if endpoint == "agent" else None
    client = await WsClient.connect(f"{server.ws}/ws/{endpoint}", cookie=cookie)
    await client.ws.send('{"type": "hello", "resume": ' + nested(3000, kind) + "}")
    code = await close_code(client, 3)
    errors = [f for f in client.frames if f["type"] == "error"]
    assert code == 4501 and errors, f"closed with {code}, frames {client.frames[:3]}"
