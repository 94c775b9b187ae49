"""decode_client_frame: each kind of bad frame gets its code, told apart by what the frame holds
(its `type`), not by the wording of msgspec's messages."""

from __future__ import annotations

import json

import msgspec
import pytest

from server.protocol import ClientFrame, ErrorCode, FrameError, Hello, MessageSend, decode_client_frame

UNKNOWN = ErrorCode.UNKNOWN_TYPE
INVALID = ErrorCode.INVALID_FRAME
BAD_JSON = ErrorCode.BAD_JSON
NO_TYPE = "frame has no `type`"
LONG_ID = "x" * 65


def _json(**frame: object) -> str:
    return json.dumps(frame)


# raw frame, code, the message (or a part of it; None: any), the client_id echoed
CASES: list[tuple[str | bytes, ErrorCode, str | None, str | None]] = [
    ("{not json", BAD_JSON, "frame is not valid JSON", None),
    ("", BAD_JSON, "frame is not valid JSON", None),
    (b'{"type": "message.send", "client_id": "m", "text": "\xff"}', BAD_JSON, "frame is not valid JSON", None),
    # The typed decoder stops at the bad field before it reaches the broken end: still not JSON.
    ('{"type": "message.send", "client_id": "m", "text": 5, ', BAD_JSON, "frame is not valid JSON", None),
    ("[1, 2, 3]", INVALID, "Expected `object`, got `array`", None),
    ("5", INVALID, None, None),
    ('"hello"', INVALID, None, None),
    ("null", INVALID, None, None),
    ("{}", INVALID, NO_TYPE, None),
    ('{"no": "type"}', INVALID, NO_TYPE, None),
    (_json(client_id="m5", text="x"), INVALID, NO_TYPE, None),
    (_json(type=5), INVALID, "$.type", None),
    (_json(type=None), INVALID, "$.type", None),
    (_json(type=["hello"]), INVALID, "$.type", None),
    (_json(type={"name": "hello"}, client_id="c9"), INVALID, "$.type", "c9"),
    (_json(type="launch.rockets"), UNKNOWN, "unknown frame type; known: consent.set, conversation.close,", None),
    (_json(type="launch.rockets", client_id="c1", text="x"), UNKNOWN, "known:", None),
    (_json(type=""), UNKNOWN, "known:", None),
    (_json(type="Hello"), UNKNOWN, "known:", None),  # tags are case-sensitive
    (_json(type="welcome"), UNKNOWN, "known:", None),  # a server-to-client frame
    (_json(type="hello", bogus=1), INVALID, "unknown field `bogus`", None),
    (_json(type="hello", identity={"type": "launch.rockets", "user_id": "u"}), INVALID, "$.identity", None),
    (_json(type="hello", identity={"token": "t"}), INVALID, "`user_id`", None),
    (_json(type="message.send", client_id="m1"), INVALID, "`text`", "m1"),
    (_json(type="message.send", client_id="m2", text=5), INVALID, "$.text", "m2"),
    (_json(type="message.send", client_id="m3", text="x", admin=True), INVALID, "`admin`", "m3"),
    (_json(type="message.send", client_id="", text="x"), INVALID, "$.client_id", ""),
    (_json(type="message.send", text="x"), INVALID, "`client_id`", None),
    (_json(type="message.send", client_id=7, text="x"), INVALID, "$.client_id", None),
    (_json(type="message.send", client_id=LONG_ID, text=3), INVALID, "$.client_id", None),  # too long to echo
    (_json(type="read", conversation_id="c", seq=-1), INVALID, "$.seq", None),
    (_json(type="typing", conversation_id="c", active="yes"), INVALID, "$.active", None),
]


@pytest.mark.parametrize(("raw", "code", "message", "client_id"), CASES)
def test_a_bad_frame_gets_its_code(
    raw: str | bytes, code: ErrorCode, message: str | None, client_id: str | None
) -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame(raw)
    error = caught.value
    assert error.code is code
    assert error.message
    if message is not None:
        assert message in error.message
    assert error.client_id == client_id


@pytest.mark.parametrize(
    ("raw", "frame"),
    [
        (_json(type="hello"), Hello()),
        (_json(type="message.send", client_id="m7", text="ok"), MessageSend(client_id="m7", text="ok")),
        (_json(type="message.send", client_id="m8", text="ok").encode(), MessageSend(client_id="m8", text="ok")),
    ],
)
def test_a_good_frame_decodes(raw: str | bytes, frame: ClientFrame) -> None:
    assert decode_client_frame(raw) == frame


def test_the_codes_do_not_depend_on_msgspecs_wording(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were msgspec to word its errors otherwise (another release, another language), the codes stay."""

    class Reworded:
        def __init__(self, decoder: msgspec.json.Decoder[ClientFrame]) -> None:
            self.decoder = decoder

        def decode(self, raw: str | bytes) -> ClientFrame:
            try:
                frame: ClientFrame = self.decoder.decode(raw)
                return frame
            except msgspec.ValidationError as exc:
                raise msgspec.ValidationError("Ungültiger Wert") from exc

    from server import protocol

    monkeypatch.setattr(protocol, "_client_decoder", Reworded(protocol._client_decoder))
    for raw, code, _message, client_id in CASES:
        with pytest.raises(FrameError) as caught:
            decode_client_frame(raw)
        assert (caught.value.code, caught.value.client_id) == (code, client_id), raw
