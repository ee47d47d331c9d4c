"""The result channel between a grading child and its parent, and why it can be believed.

The learner's code runs in the same process as the reporter, so it can find the channel's
file descriptor and write to it.  What it cannot do, without reaching into the reporter
itself (which :mod:`workbook.guard` watches for), is sign a line: the parent sends a fresh
key down the channel before the child runs any learner code, the reporter reads it before
the suite is collected, and every event then travels as ``SEQ MAC JSON``, the MAC an
HMAC-SHA256 over the sequence number and the JSON.  A line that fails the MAC or comes
out of order tells the parent that something else wrote to the channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
from collections.abc import Callable
from typing import Any

KEY_BYTES = 32
KEY_LINE = 2 * KEY_BYTES + 1  # hex and a newline


class Forged(ValueError):
    """A line on the channel that the reporter did not write."""


def pair() -> tuple[int, int, bytes]:
    """A connected pair (parent's end, child's end) with the key already on its way."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    key = secrets.token_bytes(KEY_BYTES)
    parent.sendall(key.hex().encode() + b"\n")
    return parent.detach(), child.detach(), key


def receive_key(fd: int) -> bytes:
    """In the child, before any learner code: read the key, then close the way in."""
    data = b""
    while len(data) < KEY_LINE:
        chunk = os.read(fd, KEY_LINE - len(data))
        if not chunk:
            break
        data += chunk
    with socket.socket(fileno=os.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RD)
    return bytes.fromhex(data.decode("ascii", "replace").strip())


def signer(key: bytes) -> Callable[[dict[str, Any]], bytes]:
    """The child's side: each event as one signed line, numbered from 0."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    count = 0

    def sign(event: dict[str, Any]) -> bytes:
        nonlocal count
        body = json.dumps(event, default=repr).encode()
        mac = keyed.copy()
        mac.update(b"%d " % count + body)
        line = b"%d %s %s\n" % (count, mac.hexdigest().encode(), body)
        count += 1
        return line

    return sign


class Reader:
    """The parent's side: checks each line's number and MAC, then decodes it."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)
        self._next = 0

    def read(self, line: bytes) -> dict[str, Any]:
        number, _, rest = line.rstrip(b"\n").partition(b" ")
        given, _, body = rest.partition(b" ")
        if number != b"%d" % self._next:
            raise Forged("a line out of sequence")
        mac = self._keyed.copy()
        mac.update(b"%d " % self._next + body)
        if not hmac.compare_digest(mac.hexdigest().encode(), given):
            raise Forged("a line with a wrong signature")
        self._next += 1
        try:
            event = json.loads(body)
        except ValueError:
            raise Forged("a signed line that is not JSON") from None
        if not isinstance(event, dict):
            raise Forged("a signed line that is not an event")
        return event
