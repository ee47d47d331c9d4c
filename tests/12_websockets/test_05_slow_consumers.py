"""Hidden suite for 12_websockets/05_slow_consumers: a slow reader never holds up the others.

Every check drives the app in the test's own event loop through in-process WebSocket peers
(below). A slow consumer is a peer that stops reading: from ``stall()`` on, the app's sends
to it wait until ``resume()``, as a send waits on a real socket whose reader has stopped.
The checks wait for frames and for that stalled send, never on the clock; shutdown is the
lifespan's exit, run while the peers are still connected.
"""

import asyncio
import json
import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from types import ModuleType
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

QUEUE_SIZE = 8
JOINED = {"type": "joined"}
GOING_AWAY = 1001

HELD_UP = (
    "Does the broadcast wait for each send? Put the frame on each connection's queue without "
    "waiting (put_nowait) and let that connection's own sender task do the sending."
)
QUEUE_POLICY = (
    "At most QUEUE_SIZE frames wait per connection, and a full queue drops its oldest frame "
    "to make room: is the queue bounded, with the frame being sent no longer in it?"
)
SHUTDOWN = (
    "Does the lifespan, after its yield, close every open connection with "
    'websocket.close(1001, "server shutting down")?'
)
DEAD_PEER = (
    "Does one failed close stop the loop over the connections? Closing a peer that has "
    "already gone raises WebSocketDisconnect: catch it and go on to the next one."
)
LEFT_RUNNING = (
    "Is every sender task tied to its connection (started in a task group inside the handler, "
    "or cancelled and awaited when the handler ends)?"
)


DIRECT_SENDS = pytest.mark.stub_may_pass(
    "the stub sends each frame directly, which delivers them all: the queues must keep that"
)


def message(text: str) -> dict[str, str]:
    return {"type": "message", "text": text}


class SlowPeer(Peer):
    """A peer that can stop reading: while stalled, the app's frame sends to it wait."""

    def __init__(self, path: str, state: dict[str, Any]) -> None:
        super().__init__(path, state, [])
        self.blocked = anyio.Event()  # set once a send has had to wait
        self._resumed = anyio.Event()
        self._stalled = False

    def stall(self) -> None:
        self._stalled = True

    def resume(self) -> None:
        self._stalled = False
        self._resumed.set()

    async def _send(self, message: dict[str, Any]) -> None:
        if self._stalled and message["type"] == "websocket.send":
            self.blocked.set()
            await self._resumed.wait()
        await super()._send(message)


@asynccontextmanager
async def slow_connect(app: Any, state: dict[str, Any]) -> AsyncIterator[SlowPeer]:
    """Like ``connect``, for a :class:`SlowPeer` at ``/ws``; it has read its joined frame."""
    peer = SlowPeer("/ws", state)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(peer.run, app)
            try:
                first = await peer.handshake()
                if first is None or first["type"] != "websocket.accept":
                    got = "the handler ended" if first is None else first["type"]
                    raise Failure(f"expected the server to accept the connection, not {got}")
                expect_equal("first frame", JOINED, await peer.receive_json())
                yield peer
            finally:
                peer.resume()
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


async def joined(stack: AsyncExitStack, app: Any, state: dict[str, Any]) -> Peer:
    """A peer connected to ``/ws`` that has read its joined frame."""
    peer = await stack.enter_async_context(connect(app, state, "/ws"))
    expect_equal("first frame", JOINED, await peer.receive_json())
    return peer


async def expect_frames(peer: Peer, texts: list[str], help: str | None = None) -> None:
    got = []
    for _ in texts:
        try:
            got.append(await peer.receive_json())
        except Failure as failure:
            if failure.help is not None or help is None:
                raise
            where = f"{failure.message} (frame {len(got) + 1} of {len(texts)})"
            raise Failure(where, help=help) from None
    expect_equal("frames", [message(text) for text in texts], got, help=help)


@DIRECT_SENDS
async def test_joined_then_own_message(exercise: ModuleType) -> None:
    """a client is told it joined, then gets its own messages back"""
    async with running(exercise.app) as (_, state), AsyncExitStack() as stack:
        peer = await joined(stack, exercise.app, state)
        peer.send_text("hello")
        peer.send_text("")
        await expect_frames(peer, ["hello", ""])


@DIRECT_SENDS
async def test_broadcast_reaches_everyone_in_order(exercise: ModuleType) -> None:
    """every message reaches every client, in the order sent"""
    async with running(exercise.app) as (_, state), AsyncExitStack() as stack:
        ann = await joined(stack, exercise.app, state)
        bob = await joined(stack, exercise.app, state)
        for text in ["one", "two", "three"]:
            ann.send_text(text)
        await expect_frames(bob, ["one", "two", "three"])
        await expect_frames(ann, ["one", "two", "three"])


async def stalled_after(slow: SlowPeer, fast: Peer, extra: int) -> list[str]:
    """Stall ``slow``, send it one frame it starts to receive, then ``extra`` more; the texts."""
    slow.stall()
    fast.send_text("m0")
    await expect_frames(fast, ["m0"], help=HELD_UP)
    with anyio.fail_after(HANG_GUARD):
        await slow.blocked.wait()
    texts = [f"m{i}" for i in range(1, extra + 1)]
    for text in texts:
        fast.send_text(text)
    await expect_frames(fast, texts, help=HELD_UP)
    return ["m0", *texts]


async def test_slow_consumer_does_not_hold_up_others(exercise: ModuleType) -> None:
    """a client that stops reading does not hold up the others"""
    async with running(exercise.app) as (_, state), AsyncExitStack() as stack:
        slow = await stack.enter_async_context(slow_connect(exercise.app, state))
        fast = await joined(stack, exercise.app, state)
        other = await joined(stack, exercise.app, state)
        stack.callback(slow.resume)  # on a failure, before the others leave: none stays stuck
        sent = await stalled_after(slow, fast, 3 * QUEUE_SIZE)
        await expect_frames(other, sent, help=HELD_UP)


@pytest.mark.parametrize("extra", [QUEUE_SIZE - 1, QUEUE_SIZE, QUEUE_SIZE + 1, 3 * QUEUE_SIZE])
async def test_slow_consumer_gets_newest_frames(exercise: ModuleType, extra: int) -> None:
    """a slow client catches up with the frame in flight, then the newest QUEUE_SIZE"""
    async with running(exercise.app) as (_, state), AsyncExitStack() as stack:
        slow = await stack.enter_async_context(slow_connect(exercise.app, state))
        fast = await joined(stack, exercise.app, state)
        stack.callback(slow.resume)  # on a failure, before the others leave: none stays stuck
        sent = await stalled_after(slow, fast, extra)
        slow.resume()
        kept = [sent[0], *sent[1:][-QUEUE_SIZE:]]
        await expect_frames(slow, kept, help=QUEUE_POLICY)
        slow.send_text("after")  # a round trip: nothing else was waiting before it
        await expect_frames(slow, ["after"], help=QUEUE_POLICY)


@pytest.mark.stub_may_pass("the stub starts no sender task: a queue's sender must not outlive it")
async def test_leaving_ends_the_handler(exercise: ModuleType) -> None:
    """a client that leaves ends its handler and its sender task"""
    before = set(asyncio.all_tasks())
    async with running(exercise.app) as (_, state), AsyncExitStack() as stack:
        ann = await joined(stack, exercise.app, state)
        bob = await joined(stack, exercise.app, state)
        ann.close()
        await ann.ended()
        expect(ann.raised is None, f"expected leaving to raise nothing, not {ann.raised!r}")
        bob.send_text("still here")
        await expect_frames(bob, ["still here"])
    await expect_no_tasks_left(before)


async def expect_no_tasks_left(before: set[asyncio.Task[Any]]) -> None:
    await anyio.wait_all_tasks_blocked()
    left = [task for task in asyncio.all_tasks() - before if not task.done()]
    left = [task for task in left if task is not asyncio.current_task()]
    expect(not left, f"expected no task left running, not {len(left)}", help=LEFT_RUNNING)


async def expect_going_away(peer: Peer) -> None:
    try:
        close = await peer.receive()
    except Failure as failure:
        raise Failure(f"{failure.message} at shutdown", help=SHUTDOWN) from None
    expect_equal("message", "websocket.close", close["type"], help=SHUTDOWN)
    expect_equal("close code", GOING_AWAY, close.get("code", 1000), help=SHUTDOWN)
    expect_equal("close reason", "server shutting down", close.get("reason", ""))
    peer.close(GOING_AWAY)  # the client answers the close, as a real client does
    await peer.ended()


async def test_shutdown_closes_every_socket(exercise: ModuleType) -> None:
    """shutdown closes every open socket with 1001 and leaves no task running"""
    before = set(asyncio.all_tasks())
    async with AsyncExitStack() as stack:
        lifespan = AsyncExitStack()
        _, state = await lifespan.enter_async_context(running(exercise.app))
        peers = [await joined(stack, exercise.app, state) for _ in range(3)]
        peers[0].send_text("before shutdown")
        for peer in peers:
            await expect_frames(peer, ["before shutdown"])
        await lifespan.aclose()
        for peer in peers:
            await expect_going_away(peer)
    await expect_no_tasks_left(before)


async def test_shutdown_survives_a_dead_peer(exercise: ModuleType) -> None:
    """a socket that fails to close does not stop shutdown closing the others"""
    async with AsyncExitStack() as stack:
        lifespan = AsyncExitStack()
        _, state = await lifespan.enter_async_context(running(exercise.app))
        peers = [await joined(stack, exercise.app, state) for _ in range(3)]
        peers[1].vanish()
        try:
            await lifespan.aclose()
        except Exception as exc:
            raise Failure(
                f"expected shutdown to raise nothing, not {type(exc).__name__}: {exc}",
                help=DEAD_PEER,
            ) from None
        for peer in (peers[0], peers[2]):
            await expect_going_away(peer)
        peers[1].close(1006)
        await peers[1].ended()
