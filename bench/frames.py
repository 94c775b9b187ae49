"""Decode-and-validate cost of one client frame: msgspec (what the server uses) against pydantic v2.

    python -m bench.frames

The server validates every frame at the edge, so this cost is paid once per frame received.
The pydantic model mirrors `server.protocol` (same tagged union of the chat frames, same field
limits, unknown fields refused); both decode from the raw bytes on the wire.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from server.protocol import decode_client_frame, encode

FRAME = json.dumps(
    {"type": "message.send", "client_id": "4f1c2a9e0b7d4c8e", "text": "Is the blue one in stock in size M?",
     "conversation_id": "cv_Q2x9aLk3mN8pR4tZ"}
).encode()

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PMessageSend(_Frame):
    type: Literal["message.send"]
    client_id: Annotated[str, Field(min_length=1, max_length=64)]
    text: Annotated[str, Field(max_length=65536)]
    conversation_id: Id | None = None
    private: bool = False


class PTyping(_Frame):
    type: Literal["typing"]
    conversation_id: Id
    active: bool


class PRead(_Frame):
    type: Literal["read"]
    conversation_id: Id
    seq: Annotated[int, Field(ge=1)]


PClientFrame = TypeAdapter(Annotated[PMessageSend | PTyping | PRead, Field(discriminator="type")])


def per_call_us(fn: object, n: int = 200_000) -> float:
    call = fn  # type: ignore[assignment]
    for _ in range(1000):
        call()  # type: ignore[operator]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            call()  # type: ignore[operator]
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    return best


def main() -> None:
    decoded = decode_client_frame(FRAME)
    pydantic_decoded = PClientFrame.validate_json(FRAME)
    results = {
        "msgspec decode+validate": per_call_us(lambda: decode_client_frame(FRAME)),
        "pydantic decode+validate": per_call_us(lambda: PClientFrame.validate_json(FRAME)),
        "msgspec encode": per_call_us(lambda: encode(decoded)),
        "pydantic encode": per_call_us(lambda: pydantic_decoded.model_dump_json()),
    }
    for name, us in results.items():
        print(f"{name:28s} {us:6.2f} us")
    ratio = results["pydantic decode+validate"] / results["msgspec decode+validate"]
    print(f"msgspec is {ratio:.1f}x faster to decode and validate a chat frame")


if __name__ == "__main__":
    main()
