"""Hidden suite for 12_websockets/02_rooms: a message reaches its room, and a gone peer leaves.

The checks talk to the app's WebSockets in the test's own event loop (`connect`, below): no
thread, no sleep. Every client waits for its "joined" frame, which the app sends once the
registry holds it; what the registry holds is read through `Rooms.sizes()` on the registry
the lifespan yielded. "Nothing else arrived" is shown by a client's own message being the
next frame it gets: frames on one connection come in order.
"""

import json
import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
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
    raise, while its receive waits. With ``vanish_on_accept`` the peer vanishes the moment
    the app's accept has gone out, before any frame could reach it. :meth:`fault` makes the
    app's next receive raise :class:`ServerFault`.
    """

    def __init__(
        self,
        path: str,
        state: dict[str, Any],
        headers: list[tuple[bytes, bytes]],
        *,
        vanish_on_accept: bool = False,
    ):
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
        self._vanish_on_accept = vanish_on_accept
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
        if message["type"] == "websocket.accept" and self._vanish_on_accept:
            self.vanish()

    async def run(self, app: Any) -> None:
        try:
            await app(self.scope, self._receive, self._send)
        except Exception as exc:
            self.raised = exc
        finally:
            self.finished.set()
            self._from_app.close()

    async def _next(self) -> dict[str, Any] | None:
        """The app's next message; None once it ended; a failure when it sends nothing.

        Nothing is coming once every task waits and none of them is the app's send: the
        app then waits for something only the test can give it.
        """
        got: list[dict[str, Any] | None] = []

        async def take(scope: anyio.CancelScope) -> None:
            try:
                got.append(await self._outbox.receive())
            except anyio.EndOfStream:
                got.append(None)
            scope.cancel()

        try:
            with anyio.fail_after(HANG_GUARD):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(take, tg.cancel_scope)
                    await anyio.wait_all_tasks_blocked()
                    tg.cancel_scope.cancel()
        except TimeoutError:
            pass
        if not got:
            raise Failure("expected a frame, but none came: the server sent nothing")
        return got[0]

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
        if not await self.settled():
            raise Failure(
                "expected the handler to return after the client left, but it kept running"
            )

    async def settled(self) -> bool:
        """Whether the handler has returned, once every task waits (or the hang guard)."""
        with anyio.move_on_after(HANG_GUARD):
            await anyio.wait_all_tasks_blocked()
        return self.finished.is_set()

    def _ended(self) -> str:
        if self.raised is not None:
            return f"it raised {type(self.raised).__name__}: {self.raised}"
        return "it returned"


@asynccontextmanager
async def connect(
    app: Any,
    state: dict[str, Any],
    path: str,
    *,
    headers: list[tuple[bytes, bytes]] = (),
    vanish_on_accept: bool = False,
) -> AsyncIterator[Peer]:
    """Open a WebSocket to ``app`` at ``path``; the peer once the app has accepted.

    On leaving, the client closes (1000) unless it already has, and the handler must end.
    """
    peer = Peer(path, state, list(headers), vanish_on_accept=vanish_on_accept)
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
                    await peer.settled()
                tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the task group wraps what the check raised
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    finally:
        for stream in (peer._to_app, peer._app_inbox, peer._from_app, peer._outbox):
            stream.close()


# -- the checks ------------------------------------------------------------------------------

NO_ACK = (
    'Does the handler send {"type": "joined", "room": ..., "members": n} right after the '
    "connection is in the registry, with n counting it?"
)
NOT_DELIVERED = (
    "Does the handler hand every valid say message to the registry's broadcast, and does "
    "broadcast send it to every connection of that room, the sender included?"
)
LEAKED = (
    "Is the connection removed from its room however the handler ends? A try/finally around "
    "the receive loop runs on a disconnect, on an error, and on a return alike."
)
DEAD_PEER = (
    "Does broadcast catch the error of one member's send, remove that member, and go on with "
    "the others? A peer that vanished raises on send: WebSocketDisconnect after an OSError, "
    "or a RuntimeError when the socket was already closed."
)
NOT_IDEMPOTENT = (
    "Does leave fail when the connection is no longer there? A member broadcast already "
    "removed still leaves when its own handler ends: leaving twice must be harmless."
)
JOINED_UNGUARDED = (
    'Is the "joined" frame sent inside the try whose finally leaves the room? Its send fails '
    "when the client is already gone, and the connection must leave then too."
)
WRONG_ONE_LEFT = "Does leave remove the connection that left, and only that one?"
SHARED = (
    "Is the registry created in the lifespan and yielded as state? A Rooms() at module level "
    "is shared by every app that imports the module."
)


ERROR = {"type": "error", "detail": "invalid message"}


def say(text: str) -> dict[str, str]:
    return {"type": "say", "text": text}


def message(room: str, text: str) -> dict[str, str]:
    return {"type": "message", "room": room, "text": text}


def joined(room: str, members: int) -> dict[str, Any]:
    return {"type": "joined", "room": room, "members": members}


async def expect_frame(peer: Peer, what: str, expected: Any, *, help: str | None) -> None:
    """The next frame the peer gets is ``expected``; the help shows when none came, too."""
    try:
        got = await peer.receive_json()
    except Failure as failure:
        failure.help = failure.help or help
        raise
    expect_equal(what, expected, got, help=help)


@asynccontextmanager
async def chat_app(exercise) -> AsyncIterator[tuple[AsyncExitStack, dict[str, Any]]]:
    """The app running; a stack the clients are opened on, and the lifespan state."""
    async with running(exercise.app) as (_, state), AsyncExitStack() as stack:
        yield stack, state


async def join(
    exercise, stack: AsyncExitStack, state: dict[str, Any], room: str, members: int
) -> Peer:
    """A client in `room`, once its "joined" frame says the room holds `members`."""
    peer = await stack.enter_async_context(connect(exercise.app, state, f"/ws/{room}"))
    await expect_frame(peer, "first frame", joined(room, members), help=NO_ACK)
    return peer


def expect_sizes(state: dict[str, Any], expected: dict[str, int], *, help: str) -> None:
    expect_equal("Rooms.sizes()", expected, dict(state["rooms"].sizes()), help=help)


async def expect_nothing_else(peer: Peer, room: str, *, help: str) -> None:
    """The peer's own message, sent now, is the next frame it gets."""
    peer.send_json(say("my own"))
    await expect_frame(peer, "next frame", message(room, "my own"), help=help)


# -- the registry and the joined frame -------------------------------------------------------


@pytest.mark.stub_may_pass("the lifespan is given")
async def test_registry_in_lifespan_state(exercise):
    """the lifespan yields a Rooms registry under "rooms\""""
    async with running(exercise.app) as (_, state):
        rooms = state.get("rooms")
        expect(
            isinstance(rooms, exercise.Rooms),
            f'expected the lifespan state\'s "rooms" to be a Rooms, not {type(rooms).__name__}',
            help=SHARED,
        )
        expect_sizes(state, {}, help=LEAKED)


async def test_joined_counts_members(exercise):
    """each newcomer gets a "joined" frame counting the room's members, itself included"""
    async with chat_app(exercise) as (stack, state):
        await join(exercise, stack, state, "lobby", 1)
        await join(exercise, stack, state, "lobby", 2)
        await join(exercise, stack, state, "kitchen", 1)
        await join(exercise, stack, state, "lobby", 3)


async def test_sizes_while_connected(exercise):
    """the registry shows every room with how many connections it holds"""
    async with chat_app(exercise) as (stack, state):
        await join(exercise, stack, state, "lobby", 1)
        await join(exercise, stack, state, "kitchen", 1)
        await join(exercise, stack, state, "lobby", 2)
        expect_sizes(state, {"lobby": 2, "kitchen": 1}, help=NO_ACK)


# -- broadcast --------------------------------------------------------------------------------


async def test_message_reaches_every_member_once(exercise):
    """a message reaches every member of the room once, the sender included"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        bob = await join(exercise, stack, state, "lobby", 2)
        carol = await join(exercise, stack, state, "lobby", 3)
        bob.send_json(say("hello"))
        for peer in (alice, bob, carol):
            await expect_frame(peer, "frame", message("lobby", "hello"), help=NOT_DELIVERED)
        for peer in (alice, bob, carol):
            await expect_nothing_else(peer, "lobby", help=NOT_DELIVERED)


async def test_message_stays_in_its_room(exercise):
    """a message does not reach the members of another room"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        dave = await join(exercise, stack, state, "kitchen", 1)
        alice.send_json(say("lobby only"))
        await expect_frame(alice, "frame", message("lobby", "lobby only"), help=NOT_DELIVERED)
        await expect_nothing_else(dave, "kitchen", help="Does broadcast send to one room only?")


@pytest.mark.parametrize("text", ["a", "x" * 200], ids=["one-character", "200-characters"])
async def test_text_lengths_delivered(exercise, text):
    """a text of 1 to 200 characters is delivered"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        alice.send_json(say(text))
        await expect_frame(alice, "frame", message("lobby", text), help=NOT_DELIVERED)


@pytest.mark.stub_may_pass("Say and the error frame are given")
@pytest.mark.parametrize("text", ["", "x" * 201], ids=["empty", "201-characters"])
async def test_text_lengths_refused(exercise, text):
    """an empty text, or one over 200 characters, gets an error frame"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        alice.send_json(say(text))
        await expect_frame(alice, "frame", ERROR, help=None)


@pytest.mark.stub_may_pass("the receive loop is given")
@pytest.mark.parametrize("text", ["hello", "{"], ids=["word", "brace"])
async def test_not_json_refused(exercise, text):
    """a text frame that is not JSON gets an error frame"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        for _ in range(2):  # an answer to the second frame: the connection stayed open
            alice.send_text(text)
            await expect_frame(alice, "frame", ERROR, help=None)


async def test_invalid_message_answered_to_sender_only(exercise):
    """an invalid message gets an error frame to the sender only, and the connection stays open"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        bob = await join(exercise, stack, state, "lobby", 2)
        alice.send_json(say(""))
        await expect_frame(alice, "frame", ERROR, help=None)
        await expect_nothing_else(bob, "lobby", help="Is the error frame sent to the sender only?")
        await expect_nothing_else(alice, "lobby", help=None)


async def test_registry_per_app(exercise):
    """two running apps keep separate registries"""
    async with chat_app(exercise) as (stack, state), chat_app(exercise) as (other, state2):
        alice = await join(exercise, stack, state, "lobby", 1)
        erin = await join(exercise, other, state2, "lobby", 1)
        alice.send_json(say("here only"))
        await expect_frame(alice, "frame", message("lobby", "here only"), help=NOT_DELIVERED)
        await expect_nothing_else(erin, "lobby", help=SHARED)
        expect_sizes(state, {"lobby": 1}, help=SHARED)


# -- no trace after any kind of disconnect ----------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001], ids=["normal-close", "going-away"])
async def test_client_close_leaves_no_trace(exercise, code):
    """a client that closes leaves its room, and an empty room is gone"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        bob = await join(exercise, stack, state, "lobby", 2)
        alice.close(code)
        await alice.ended()
        expect_sizes(state, {"lobby": 1}, help=LEAKED)
        await expect_nothing_else(bob, "lobby", help=WRONG_ONE_LEFT)
        bob.close(code)
        await bob.ended()
        expect_sizes(state, {}, help=LEAKED)
    expect(alice.raised is None and bob.raised is None, "expected the handlers to end cleanly")


async def test_server_error_leaves_no_trace(exercise):
    """a handler that fails with an error leaves its room"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        bob = await join(exercise, stack, state, "lobby", 2)
        bob.fault()
        await bob.ended()
        expect_sizes(state, {"lobby": 1}, help=LEAKED)
        await expect_nothing_else(alice, "lobby", help=WRONG_ONE_LEFT)


async def test_failed_joined_frame_leaves_no_trace(exercise):
    """a client gone before its joined frame could be sent leaves no trace"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        bob = await stack.enter_async_context(
            connect(exercise.app, state, "/ws/lobby", vanish_on_accept=True)
        )
        await bob.ended()
        expect_sizes(state, {"lobby": 1}, help=JOINED_UNGUARDED)
        await expect_nothing_else(alice, "lobby", help=WRONG_ONE_LEFT)


@pytest.mark.parametrize(
    "error",
    [
        None,
        RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'"),
    ],
    ids=["vanished", "already-closed"],
)
async def test_failed_send_drops_peer_and_delivers_to_others(exercise, error):
    """a member whose send fails is dropped, and the members after it still get the message"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        bob = await join(exercise, stack, state, "lobby", 2)
        carol = await join(exercise, stack, state, "lobby", 3)
        dave = await join(exercise, stack, state, "lobby", 4)
        bob.vanish(error)
        dave.vanish(error)
        carol.send_json(say("still here"))
        for peer in (alice, carol):
            await expect_frame(peer, "frame", message("lobby", "still here"), help=DEAD_PEER)
        expect_sizes(state, {"lobby": 2}, help=DEAD_PEER)
        for peer in (alice, carol):
            await expect_nothing_else(peer, "lobby", help=DEAD_PEER)


async def test_dropped_peer_handler_ends_cleanly(exercise):
    """a member already dropped by a broadcast leaves without an error when it disconnects"""
    async with chat_app(exercise) as (stack, state):
        alice = await join(exercise, stack, state, "lobby", 1)
        bob = await join(exercise, stack, state, "lobby", 2)
        bob.vanish()
        alice.send_json(say("ping"))
        await alice.receive_json()
        bob.close(1006)
        await bob.ended()
        expect(
            bob.raised is None,
            f"expected the handler to return, but it raised {type(bob.raised).__name__}: "
            f"{bob.raised}",
            help=NOT_IDEMPOTENT,
        )
        expect_sizes(state, {"lobby": 1}, help=NOT_IDEMPOTENT)
        alice.close()
        await alice.ended()
        expect_sizes(state, {}, help=LEAKED)
