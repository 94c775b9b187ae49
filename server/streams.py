"""Broker channel names and the envelope that carries a frame between processes.

An envelope is `kind:arg:frame-json`, built once by the publisher and parsed once per process:
  e:<seq>.<private>:<frame>   a stored event of the channel's conversation
  f::<frame>                  an ephemeral frame (typing, presence, queue) for every member
  g:<conversation_id>:<frame> grant: members join that conversation's stream, then get the frame
  r:<conversation_id>:<frame> revoke: members leave that conversation's stream, then get the frame
  a::<frame>                  access changed (on a conversation's channel; the frame is its new
                              summary): members no longer allowed to read it leave, then get the frame
  x:<session>:<frame>         end of a session: members of that session (`*`: all) get the frame
                              and are closed
"""

from __future__ import annotations

from typing import Literal

AGENTS = "agents"
CUSTOMERS = "customers"
# Campaign hints for every process: "campaign X started", delivered to locally connected customers.
CAMPAIGNS = "campaigns"

EnvelopeKind = Literal["e", "f", "g", "r", "a", "x"]


def conversation(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def agent(agent_id: str) -> str:
    return f"agent:{agent_id}"


def customer(customer_id: str) -> str:
    return f"customer:{customer_id}"


def inbox(customer_id: str) -> str:
    return f"inbox:{customer_id}"


def conversation_of(channel: str) -> str | None:
    return channel[5:] if channel.startswith("conv:") else None


def event_envelope(seq: int, private: bool, frame: bytes) -> bytes:
    return b"e:%d.%d:%s" % (seq, private, frame)


def frame_envelope(frame: bytes) -> bytes:
    return b"f::" + frame


def grant_envelope(conversation_id: str, frame: bytes) -> bytes:
    return b"g:" + conversation_id.encode() + b":" + frame


def revoke_envelope(conversation_id: str, frame: bytes) -> bytes:
    return b"r:" + conversation_id.encode() + b":" + frame


def access_envelope(frame: bytes) -> bytes:
    return b"a::" + frame


def end_envelope(session: str, frame: bytes) -> bytes:
    return b"x:" + session.encode() + b":" + frame


def parse(data: bytes) -> tuple[str, str, str]:
    """(kind, arg, frame as text). Frames go out as text, so they are decoded here once."""
    kind, arg, frame = data.split(b":", 2)
    return kind.decode(), arg.decode(), frame.decode()
