"""Hidden suite for 12_websockets/01_typed_messages: every frame gets one typed answer.

The checks talk to the app's WebSocket in the test's own event loop (`connect`, below): no
thread, no sleep. Each frame sent gets exactly one frame back, so a check sends a frame and
reads the next one; a ping answered after an error shows that the connection stayed open.
"""

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from workbook.testing import HANG_GUARD, Failure, Mismatch, expect, expect_equal, running

# -- an in-process WebSocket peer ----------------------------------------------------------


class PeerGone(OSError):
    """What a server's send raises once the peer has vanished (Uvicorn: ClientDisconnected)."""


class ServerFault(Exception):
    """An error of the server under the handler, other than a disconnect."""


class Peer:
    """One WebSocket client, talking to an app in the test's own event loop.

    The app runs as a task of the test, with our own ``receive`` and ``send``: what the app
    sends is queued for :meth:`receive`, and every wait has a hang guard (``HANG_GUARD``)
    that only stops an app that never answers. :meth:`vanish` makes the peer go away
    without a closing handshake, as a dropped network does: from then on the app's sends
    raise, while its receive waits. :meth:`fault` makes the app's next receive raise
    :class:`ServerFault`.
    """

    def __init__(self, path: str, state: dict[str, Any], headers: list[tuple[bytes, bytes]]):
        route, _, query = path.partition("?")
        self.scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": route,
            "raw_path": route.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"host", b"test"), *headers],
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
            "state": dict(state),  # as servers do: a shallow copy of the lifespan state
        }
        streams = anyio.create_memory_object_stream[dict[str, Any]]
        self._to_app, self._app_inbox = streams(math.inf)
        self._from_app, self._outbox = streams(math.inf)
        self.sent: list[dict[str, Any]] = []  # every message the app sent, in order
        self.raised: BaseException | None = None  # what escaped the app, as a server logs it
        self.finished = anyio.Event()
        self.gone: Exception | None = None
        self._fault = False
        self._to_app.send_nowait({"type": "websocket.connect"})

    async def _receive(self) -> dict[str, Any]:
        if self._fault:
            raise ServerFault("the server failed under the handler")
        message = await self._app_inbox.receive()
        if message["type"] == "fault":
            raise ServerFault("the server failed under the handler")
        return message

    async def _send(self, message: dict[str, Any]) -> None:
        if self.gone is not None:
            raise self.gone
        self.sent.append(message)
        self._from_app.send_nowait(message)

    async def run(self, app: Any) -> None:
        try:
            await app(self.scope, self._receive, self._send)
        except Exception as exc:
            self.raised = exc
        finally:
            self.finished.set()
            self._from_app.close()

    async def _next(self) -> dict[str, Any] | None:
        try:
            with anyio.fail_after(HANG_GUARD):
                return await self._outbox.receive()
        except anyio.EndOfStream:
            return None
        except TimeoutError:
            raise Failure("expected a frame, but none came: the server sent nothing") from None

    async def handshake(self) -> dict[str, Any] | None:
        """The app's answer to the handshake: ``websocket.accept`` or ``websocket.close``."""
        return await self._next()

    def send_text(self, text: str) -> None:
        self._to_app.send_nowait({"type": "websocket.receive", "text": text})

    def send_bytes(self, data: bytes) -> None:
        self._to_app.send_nowait({"type": "websocket.receive", "bytes": data})

    def send_json(self, value: Any) -> None:
        self.send_text(json.dumps(value))

    async def receive(self) -> dict[str, Any]:
        """The next message the app sends; a failure when it ends the connection instead."""
        message = await self._next()
        if message is None:
            raise Failure(f"expected a frame, but the handler ended ({self._ended()})")
        return message

    async def receive_json(self) -> Any:
        """The next frame, a text frame holding JSON; a failure for anything else."""
        message = await self.receive()
        if message["type"] == "websocket.close":
            code = message.get("code")
            raise Failure(f"expected a frame, but the server closed the connection ({code})")
        text = message.get("text")
        if text is None:
            raise Mismatch("a text frame", "text", "a binary frame")
        try:
            return json.loads(text)
        except ValueError:
            raise Failure(f"expected a frame holding JSON, not {text!r}") from None

    def close(self, code: int = 1000) -> None:
        """The client closes: the app's receive answers ``websocket.disconnect``."""
        self._to_app.send_nowait({"type": "websocket.disconnect", "code": code})

    def vanish(self, error: Exception | None = None) -> None:
        """The peer drops off the network: sends raise ``error``, receive keeps waiting.

        By default ``PeerGone``, an ``OSError``, as Uvicorn's send raises when the peer has
        gone; Starlette turns it into ``WebSocketDisconnect(1006)``.
        """
        self.gone = error if error is not None else PeerGone("the peer has vanished")

    def fault(self) -> None:
        """The app's next receive raises :class:`ServerFault`."""
        self._fault = True
        self._to_app.send_nowait({"type": "fault"})

    async def ended(self) -> None:
        """Wait for the handler to return; a failure when it does not."""
        try:
            with anyio.fail_after(HANG_GUARD):
                await self.finished.wait()
        except TimeoutError:
            raise Failure(
                "expected the handler to return after the client left, but it kept running"
            ) from None

    def _ended(self) -> str:
        if self.raised is not None:
            return f"it raised {type(self.raised).__name__}: {self.raised}"
        return "it returned"


@asynccontextmanager
async def connect(
    app: Any, state: dict[str, Any], path: str, *, headers: list[tuple[bytes, bytes]] = ()
) -> AsyncIterator[Peer]:
    """Open a WebSocket to ``app`` at ``path``; the peer once the app has accepted.

    On leaving, the client closes (1000) unless it already has, and the handler must end.
    """
    peer = Peer(path, state, list(headers))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(peer.run, app)
            try:
                first = await peer.handshake()
                if first is None or first["type"] != "websocket.accept":
                    got = "the handler ended" if first is None else first["type"]
                    raise Failure(f"expected the server to accept the connection, not {got}")
                yield peer
            finally:
                if not peer.finished.is_set():
                    peer.close()
                    with anyio.move_on_after(HANG_GUARD):
                        await peer.finished.wait()
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the task group wraps what the check raised
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        for stream in (peer._to_app, peer._app_inbox, peer._from_app, peer._outbox):
            stream.close()


# -- the checks ------------------------------------------------------------------------------

MAX_TEXT = 200
BINARY = "binary frames are not accepted"
NOT_JSON = "invalid JSON"
INVALID = "invalid message"
PONG = {"type": "pong"}

NO_UNION = (
    "Is every text frame validated by one TypeAdapter over Say | Ping, discriminated by "
    '"type"? A message that matches neither model is answered with an error frame.'
)
DROPPED = (
    "Does an error end the loop? Send the error frame and go on receiving: a bad frame must "
    "not cost the client its connection."
)
RECEIVE_TEXT = (
    "Does the handler read with receive_text or receive_json? Those fail on a binary frame "
    "(and on a disconnect): websocket.receive() gives the raw message, with its type and "
    'its "text" or "bytes".'
)


@asynccontextmanager
async def chat(exercise) -> AsyncIterator[Peer]:
    """A client connected to the app's `/ws`."""
    async with running(exercise.app) as (_, state), connect(exercise.app, state, "/ws") as peer:
        yield peer


async def exchange(peer: Peer, frame: str | bytes, *, help: str | None = None) -> Any:
    """Send one frame; the frame that answers it."""
    if isinstance(frame, bytes):
        peer.send_bytes(frame)
    else:
        peer.send_text(frame)
    return await peer.receive_json()


async def expect_still_open(peer: Peer) -> None:
    """A ping sent now is answered with a pong."""
    peer.send_json({"type": "ping"})
    try:
        reply = await peer.receive_json()
    except Failure as failure:
        message = f"expected the connection to stay open: {failure.message}"
        raise Failure(message, help=DROPPED) from None
    expect_equal("frame", PONG, reply, help=DROPPED)


async def expect_error(exercise, frame: str | bytes, detail: str, help: str) -> None:
    async with chat(exercise) as peer:
        reply = await exchange(peer, frame)
        expect_equal("frame", {"type": "error", "detail": detail}, reply, help=help)
        await expect_still_open(peer)


# -- valid messages --------------------------------------------------------------------------


async def test_ping_answers_pong(exercise):
    """a ping is answered with a pong"""
    async with chat(exercise) as peer:
        reply = await exchange(peer, json.dumps({"type": "ping"}))
    expect_equal("frame", PONG, reply, help=NO_UNION)


@pytest.mark.parametrize(
    "text",
    ["hello", "a", "x" * MAX_TEXT, "é" * MAX_TEXT, "  two spaces  "],
    ids=["hello", "one-character", "200-characters", "200-accented", "spaces-kept"],
)
async def test_say_answers_said(exercise, text):
    """a say message is answered with its text, exactly"""
    async with chat(exercise) as peer:
        reply = await exchange(peer, json.dumps({"type": "say", "text": text}))
    expect_equal("frame", {"type": "said", "text": text}, reply, help=NO_UNION)


async def test_every_frame_answered_in_order(exercise):
    """every frame gets its own answer, in the order sent"""
    frames = [{"type": "say", "text": "one"}, {"type": "ping"}, {"type": "say", "text": "two"}]
    async with chat(exercise) as peer:
        for frame in frames:
            peer.send_json(frame)
        replies = [await peer.receive_json() for _ in frames]
    expected = [{"type": "said", "text": "one"}, PONG, {"type": "said", "text": "two"}]
    expect_equal("frames", expected, replies, help=DROPPED)


# -- invalid frames get an error frame, and the connection stays open ------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"type": "say", "text": ""},
        {"type": "say", "text": "x" * (MAX_TEXT + 1)},
        {"type": "say", "text": "é" * (MAX_TEXT + 1)},
        {"type": "say"},
        {"type": "say", "text": 5},
        {"type": "say", "text": None},
        {"type": "say", "text": "hi", "to": "bob"},
        {"type": "ping", "id": 1},
        {"type": "shout", "text": "hi"},
        {"type": "Ping"},
        {"text": "hi"},
        {},
        ["ping"],
        "ping",
        None,
        7,
    ],
    ids=[
        "empty-text",
        "201-characters",
        "201-accented",
        "no-text",
        "number-text",
        "null-text",
        "extra-key-say",
        "extra-key-ping",
        "unknown-type",
        "type-is-case-sensitive",
        "no-type",
        "empty-object",
        "array",
        "string",
        "null",
        "number",
    ],
)
async def test_invalid_message_gets_error(exercise, message):
    """a message that is not a valid say or ping gets an "invalid message" error frame"""
    await expect_error(exercise, json.dumps(message), INVALID, NO_UNION)


@pytest.mark.parametrize(
    "text",
    ["hello", "{", '{"type": "ping"', "", " "],
    ids=["word", "brace", "cut", "empty", "space"],
)
async def test_not_json_gets_error(exercise, text):
    """a text frame that is not JSON gets an "invalid JSON" error frame"""
    help = "Does the handler tell text that is not JSON from JSON that is not a valid message?"
    await expect_error(exercise, text, NOT_JSON, help)


@pytest.mark.parametrize(
    "data", [b'{"type": "ping"}', b"hello", b"", b"\xff"], ids=["json", "text", "empty", "not-utf8"]
)
async def test_binary_frame_gets_error(exercise, data):
    """a binary frame gets an error frame, even when it holds a valid message"""
    await expect_error(exercise, data, BINARY, RECEIVE_TEXT)


# -- leaving ----------------------------------------------------------------------------------


def expect_clean_end(peer: Peer) -> None:
    expect(
        peer.raised is None,
        f"expected the handler to return, but it raised {type(peer.raised).__name__}: "
        f"{peer.raised}",
        help=RECEIVE_TEXT,
    )


@pytest.mark.parametrize("code", [1000, 1001], ids=["normal-close", "going-away"])
async def test_disconnect_at_once_ends_cleanly(exercise, code):
    """a client that leaves before sending anything ends the handler without an error"""
    async with chat(exercise) as peer:
        peer.close(code)
        await peer.ended()
    expect_clean_end(peer)


async def test_disconnect_after_frames_ends_cleanly(exercise):
    """a client that leaves after some frames, an error among them, ends the handler cleanly"""
    async with chat(exercise) as peer:
        await exchange(peer, "not json")
        await expect_still_open(peer)
        peer.close()
        await peer.ended()
    expect_clean_end(peer)
