"""E-mail addresses and display names made safe for headers: validated, quoted, never a new line."""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

# A plain addr-spec: a dot-atom local part and a domain of labels. Stricter than RFC 5322 on
# purpose (no quoted local parts, no comments, no IP literals): every address we send to or
# accept from a shopper has this shape, and nothing in it can open a new header or recipient.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_ADDRESS = re.compile(rf"^({_LOCAL})@({_DOMAIN})$")
MAX_ADDRESS = 254
MAX_NAME = 100


class BadAddress(ValueError):
    """Not an address we send mail to."""


def checked_address(raw: str) -> str:
    """The address, trimmed; BadAddress for anything that is not a plain `local@domain`."""
    address = raw.strip()
    if len(address) > MAX_ADDRESS or not _ADDRESS.match(address):
        raise BadAddress(f"not an e-mail address: {raw[:80]!r}")
    local, _, _domain = address.rpartition("@")
    if len(local) > 64:
        raise BadAddress("the part before @ is longer than 64 characters")
    return address


def is_address(raw: str) -> bool:
    try:
        checked_address(raw)
    except BadAddress:
        return False
    return True


def one_line(text: str, limit: int = 200) -> str:
    """Text for a header (a subject, a name): control characters and line breaks of any kind
    become spaces, runs of spaces one, at most `limit` characters. A value from a person can
    then never end its header and start another (header injection)."""
    if not text.isprintable():  # the common case (printable, ordinary spaces) skips the walk
        text = "".join(" " if unicodedata.category(ch)[0] in ("C", "Z") else ch for ch in text)
    cleaned = " ".join(text.split())
    return cleaned[:limit].strip()


class Mailbox(NamedTuple):
    """A checked address and a one-line name (mail/message.py quotes or encodes it)."""

    name: str
    address: str


def mailbox(name: str | None, address: str) -> Mailbox:
    """The name flattened to one line, the address checked (BadAddress otherwise)."""
    return Mailbox(one_line(name or "", MAX_NAME), checked_address(address))
