"""Hidden suite for 12_websockets/03_handshake_auth: the token is checked before accept().

Every check drives the app in the test's own event loop through an in-process WebSocket peer
(below): the app's first message shows whether it accepted or closed, and every frame it
sends is recorded. The clock is the suite's own (``get_clock`` overridden), moved by hand to
each side of a token's expiry; nothing waits on the wall clock.
"""

import json
import math
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import anyio
import pytest

from workbook.testing import HANG_GUARD, Failure, Mismatch, expect, expect_equal, provide

ALICE_EXPIRES = 1_900_000_000.0
BOB_EXPIRES = 1_900_003_600.0
POLICY_VIOLATION = 1008

AUTH_FIRST = (
    "Is the token checked before accept()? Raise WebSocketException(code=1008) from a "
    "dependency, or close before accepting: once accepted, the client already holds an open "
    "connection."
)
WHERE_TOKEN = (
    "Is the token read from the query string (?token=...), the one place a browser can put it?"
)
BOUNDARY = (
    "A token is valid while now < expires_at: is the comparison the right way round at "
    "expires_at itself?"
)
EVERY_MESSAGE = (
    "Is the clock read again as each frame arrives? A token checked only at the handshake "
    "stays good for as long as the connection lives."
)


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


class Clock:
    """A clock the suite moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(exercise: ModuleType) -> Iterator[Clock]:
    """The app's clock, replaced by one the check moves; it starts an hour before alice's expiry."""
    fake = Clock(ALICE_EXPIRES - 3600)
    exercise.app.dependency_overrides[exercise.get_clock] = provide(fake)
    yield fake
    exercise.app.dependency_overrides.pop(exercise.get_clock, None)


async def refused(exercise: ModuleType, path: str) -> Peer:
    """Open ``path`` and let the app answer the handshake; the peer once the handler ended."""
    peer = Peer(path, {}, [])
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(peer.run, exercise.app)
            first = await peer.handshake()
            if first is not None and first["type"] == "websocket.accept":
                peer.close()
            await peer.ended()
    except BaseExceptionGroup as group:  # the task group wraps what the check raised
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        for stream in (peer._to_app, peer._app_inbox, peer._from_app, peer._outbox):
            stream.close()
    expect(
        first is not None,
        "expected the server to close the connection, but the handler ended without a word",
    )
    assert first is not None
    expect_equal("the answer to the handshake", "websocket.close", first["type"], help=AUTH_FIRST)
    expect_equal("close code", POLICY_VIOLATION, first.get("code", 1000))
    expect_equal("messages sent", [first["type"]], [message["type"] for message in peer.sent])
    expect(peer.raised is None, f"expected the refusal to raise nothing, not {peer.raised!r}")
    return peer


async def expect_echo(peer: Peer, user: str, text: str) -> None:
    peer.send_text(text)
    expect_equal(
        "frame",
        {"type": "echo", "user": user, "text": text},
        await peer.receive_json(),
        help=EVERY_MESSAGE,
    )


async def expect_expired_close(peer: Peer) -> None:
    message = await peer.receive()
    expect_equal("message", "websocket.close", message["type"], help=EVERY_MESSAGE)
    expect_equal("close code", POLICY_VIOLATION, message.get("code", 1000))
    expect_equal("close reason", "token expired", message.get("reason", ""))
    await peer.ended()
    expect(peer.raised is None, f"expected the close to raise nothing, not {peer.raised!r}")


@pytest.mark.parametrize(
    ("token", "user"), [("tok-alice", "alice"), ("tok-bob", "bob")], ids=["alice", "bob"]
)
async def test_valid_token_welcomed(
    exercise: ModuleType, clock: Clock, token: str, user: str
) -> None:
    """a valid token is accepted and welcomed by the user's name"""
    async with connect(exercise.app, {}, f"/ws?token={token}") as peer:
        expect_equal("first frame", {"type": "welcome", "user": user}, await peer.receive_json())


async def test_token_valid_until_its_last_moment(exercise: ModuleType, clock: Clock) -> None:
    """a token is still accepted just before its expires_at"""
    clock.now = ALICE_EXPIRES - 0.001
    async with connect(exercise.app, {}, "/ws?token=tok-alice") as peer:
        expect_equal(
            "first frame",
            {"type": "welcome", "user": "alice"},
            await peer.receive_json(),
            help=BOUNDARY,
        )


@pytest.mark.parametrize(
    "path",
    ["/ws", "/ws?token=", "/ws?token=tok-mallory", "/ws?token=TOK-ALICE", "/ws?user=alice"],
    ids=["missing", "empty", "unknown", "wrong-case", "other-parameter"],
)
async def test_bad_token_refused_before_accept(
    exercise: ModuleType, clock: Clock, path: str
) -> None:
    """a missing, empty or unknown token is closed with 1008 before accept"""
    await refused(exercise, path)


@pytest.mark.parametrize("after", [0.0, 1.0], ids=["at-expiry", "after-expiry"])
async def test_expired_token_refused_before_accept(
    exercise: ModuleType, clock: Clock, after: float
) -> None:
    """an expired token is closed with 1008 before accept"""
    clock.now = ALICE_EXPIRES + after
    await refused(exercise, "/ws?token=tok-alice")


async def test_expiry_is_per_token(exercise: ModuleType, clock: Clock) -> None:
    """each token expires at its own time"""
    clock.now = ALICE_EXPIRES
    await refused(exercise, "/ws?token=tok-alice")
    async with connect(exercise.app, {}, "/ws?token=tok-bob") as peer:
        expect_equal("first frame", {"type": "welcome", "user": "bob"}, await peer.receive_json())
    clock.now = BOB_EXPIRES - 0.001
    async with connect(exercise.app, {}, "/ws?token=tok-bob") as peer:
        expect_equal("first frame", {"type": "welcome", "user": "bob"}, await peer.receive_json())
    clock.now = BOB_EXPIRES
    await refused(exercise, "/ws?token=tok-bob")


async def test_echo_names_the_sender(exercise: ModuleType, clock: Clock) -> None:
    """every text frame is echoed with the sender's name, and leaving ends the handler"""
    async with connect(exercise.app, {}, "/ws?token=tok-alice") as peer:
        await peer.receive_json()
        await expect_echo(peer, "alice", "hello")
        await expect_echo(peer, "alice", "")
        peer.close()
        await peer.ended()
        expect(peer.raised is None, f"expected leaving to raise nothing, not {peer.raised!r}")


async def test_each_connection_keeps_its_identity(exercise: ModuleType, clock: Clock) -> None:
    """each connection keeps its own user"""
    async with connect(exercise.app, {}, "/ws?token=tok-alice") as alice:
        await alice.receive_json()
        async with connect(exercise.app, {}, "/ws?token=tok-bob") as bob:
            await bob.receive_json()
            await expect_echo(alice, "alice", "from alice")
            await expect_echo(bob, "bob", "from bob")


async def test_expiry_mid_session_closes(exercise: ModuleType, clock: Clock) -> None:
    """a token that expires mid-session is closed with 1008 at the next frame"""
    async with connect(exercise.app, {}, "/ws?token=tok-alice") as peer:
        await peer.receive_json()
        clock.now = ALICE_EXPIRES - 0.001
        await expect_echo(peer, "alice", "still here")
        clock.now = ALICE_EXPIRES
        peer.send_text("too late")
        await expect_expired_close(peer)
        expect_equal(
            "frames after the close",
            [],
            [m for m in peer.sent if m["type"] == "websocket.send"][2:],
        )


async def test_expiry_mid_session_is_per_connection(exercise: ModuleType, clock: Clock) -> None:
    """a token expiring mid-session closes only its own connection"""
    async with connect(exercise.app, {}, "/ws?token=tok-alice") as alice:
        await alice.receive_json()
        async with connect(exercise.app, {}, "/ws?token=tok-bob") as bob:
            await bob.receive_json()
            clock.now = ALICE_EXPIRES + 60
            alice.send_text("late")
            await expect_expired_close(alice)
            await expect_echo(bob, "bob", "on time")
