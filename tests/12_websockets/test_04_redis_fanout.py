"""Hidden suite for 12_websockets/04_redis_fanout: two instances share one chat through Redis.

Every check starts two copies of the app module, as two processes behind a load balancer
would run it (each copy has its own module state), on one Redis: fakeredis's in-process
server, or the real one `redis_url` names. Sockets are driven in the test's own event loop
(`Peer`, below): a check waits for frames, never sleeps. Frames on one connection, and
messages on one Redis subscription, arrive in order: to prove that nothing else came, a
check has another line said and reads it as the very next frame. Subscriptions are read
from Redis itself (PUBSUB NUMSUB) through a client of the check's own. Room names are new in
every check, so no check sees another's channels on a shared server.
"""

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from workbook.loader import load_copy
from workbook.testing import HANG_GUARD, Failure, Mismatch, expect, expect_equal, running

# The contract says warnings are errors in the checks.
pytestmark = pytest.mark.filterwarnings("error")

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
    raise ``OSError`` (Starlette turns it into ``WebSocketDisconnect(1006)``) while its
    receive waits. :meth:`fault` makes the app's next receive raise :class:`ServerFault`.
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
        self.gone = False
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
        if self.gone:
            raise PeerGone("the peer has vanished")
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
        with anyio.fail_after(HANG_GUARD):
            try:
                return await self._outbox.receive()
            except anyio.EndOfStream:
                return None

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

    def vanish(self) -> None:
        """The peer drops off the network: sends fail, receive keeps waiting."""
        self.gone = True

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

ROUND_TRIPS = 20  # NUMSUB asked again until Redis has read what the app sent before it

NOT_CONFIRMED = (
    "Is the joined frame sent before the instance has subscribed to the room's channel? "
    'Subscribe to f"chat:{room}" (pubsub.subscribe) and wait until the listener sees '
    'Redis\'s "subscribe" confirmation for it; only then send joined.'
)
ONE_SUBSCRIPTION = (
    "Does the instance subscribe once per room, however many of its sockets are in it? "
    "Only the first socket of a room on an instance subscribes; the others just join the "
    "instance's own list."
)
MEMBERS = (
    '"members" counts the sockets in the room on this instance, the newcomer included: '
    "other instances' sockets are not counted."
)
NOT_FANNED_OUT = (
    "Does a line go through Redis? publish the message frame on the room's channel, and let "
    "every instance's listener hand what it receives to its own sockets in that room."
)
TWICE = (
    "Is a line delivered twice on the sender's instance: once at once to the local sockets "
    "and once more when it comes back from Redis? Let it reach every socket one way only."
)
OTHER_ROOM = (
    "Does the listener hand a message only to the sockets of the room its channel names? "
    "\"chat:lobby\" carries the lobby's lines, and no other room's sockets get them."
)
STILL_SUBSCRIBED = (
    "Does the instance unsubscribe as soon as one socket leaves? Only the last socket of a "
    "room on this instance unsubscribes it."
)
NOT_UNSUBSCRIBED = (
    "Does the handler unsubscribe when the last socket of a room leaves? In a finally around "
    "the receive loop, remove the socket, and when the room is empty here, "
    "pubsub.unsubscribe(its channel) before the handler returns."
)
STALE_ROOM = (
    "Does an emptied room stay in the instance's registry, so the next socket thinks the "
    "channel is still subscribed? Remove the room with its last socket; the next one "
    "subscribes again."
)
LISTENER_DIED = (
    "Does one failing send stop the delivery? A send to a socket whose peer vanished raises "
    "WebSocketDisconnect: catch it per socket and go on, or the listener task ends and the "
    "whole instance stops hearing Redis."
)
DEAD_KEPT = (
    "Does a socket whose send failed stay in the room? When a send raises "
    "WebSocketDisconnect, that socket leaves the room there and then: Starlette refuses any "
    "later send to it, and members must not count it."
)
LEFTOVER_TASK = (
    "Is the listener task cancelled at shutdown, and awaited? After the lifespan's yield: "
    "task.cancel(), then await it (suppressing CancelledError), then close the pub/sub "
    "connection and the client."
)
NOT_AWAITED = (
    "Does the shutdown close the pub/sub connection while the listener task is still "
    "reading it? Cancel the task, then await it (suppressing CancelledError): only then "
    "aclose the pub/sub connection."
)
NOT_CLOSED = (
    "Does the lifespan close what it opened? After the yield, once the listener has stopped: "
    "await hub.pubsub.aclose(), then await redis.aclose()."
)
LEAVING_RAISED = (
    "Does the handler let WebSocketDisconnect escape, or fail in leave()? A client that closes "
    "ends the receive loop with WebSocketDisconnect: catch it, and let leave() do nothing for "
    "a socket that is no longer in its room."
)
SHUTDOWN_RAISED = (
    "Does the shutdown let the listener's CancelledError escape, or close Redis before the "
    "listener has stopped? Cancel, await the task with the CancelledError suppressed, then "
    "aclose the pub/sub and the client."
)


def new_room() -> str:
    return f"lobby-{uuid.uuid4().hex[:8]}"


def message(room: str, text: str) -> dict[str, str]:
    return {"type": "message", "room": room, "text": text}


class Spy:
    """Watches from inside the Redis client an instance makes, and its pub/sub connections.

    It wraps the copy's ``redis_from_env`` (the given function the lifespan calls), so it
    sees what the app does with the objects redis-py hands it, whatever code calls them.
    While ``hold`` is set, a subscribe confirmation that reaches a pub/sub connection waits
    there (``held`` is set) until ``release`` is set.
    """

    def __init__(self) -> None:
        self.hold = False
        self.held = anyio.Event()
        self.release = anyio.Event()
        self.readers: set[asyncio.Task[Any]] = set()  # tasks that read a pub/sub connection
        self.closed: list[str] = []  # "pubsub", "client": each close that was awaited
        self.readers_running_at_close: list[str] = []

    def install(self, module: ModuleType) -> None:
        make = module.redis_from_env

        def redis_from_env() -> Any:
            client = make()
            self._watch_client(client)
            return client

        module.redis_from_env = redis_from_env

    def _watch_client(self, client: Any) -> None:
        make_pubsub, close = client.pubsub, client.aclose

        def pubsub(*args: Any, **kwargs: Any) -> Any:
            connection = make_pubsub(*args, **kwargs)
            self._watch_pubsub(connection)
            return connection

        async def aclose(*args: Any, **kwargs: Any) -> Any:
            result = await close(*args, **kwargs)
            self.closed.append("client")
            return result

        client.pubsub, client.aclose = pubsub, aclose

    def _watch_pubsub(self, connection: Any) -> None:
        parse, handle, close = (
            connection.parse_response,
            connection.handle_message,
            connection.aclose,
        )

        async def parse_response(*args: Any, **kwargs: Any) -> Any:
            if (task := asyncio.current_task()) is not None:
                self.readers.add(task)
            return await parse(*args, **kwargs)

        async def handle_message(response: Any, *args: Any, **kwargs: Any) -> Any:
            kind = response[0] if isinstance(response, list | tuple) and response else None
            if self.hold and kind in ("subscribe", b"subscribe"):
                self.held.set()
                await self.release.wait()
            return await handle(response, *args, **kwargs)

        async def aclose(*args: Any, **kwargs: Any) -> Any:
            self.readers_running_at_close += [
                task.get_name() for task in self.readers if not task.done()
            ]
            result = await close(*args, **kwargs)
            self.closed.append("pubsub")
            return result

        connection.parse_response = parse_response
        connection.handle_message = handle_message
        connection.aclose = aclose


class Instance:
    """One running copy of the app: its module, its lifespan state, its ASGI app."""

    def __init__(self, module: ModuleType, state: dict[str, Any]) -> None:
        self.module = module
        self.app = module.app
        self.state = state


@asynccontextmanager
async def cluster(
    exercise: ModuleType, size: int = 2, *, spy: Spy | None = None
) -> AsyncIterator[list[Instance]]:
    """``size`` copies of the app, each loaded afresh and running its lifespan."""
    async with AsyncExitStack() as stack:
        instances = []
        for _ in range(size):
            module = load_copy(Path(exercise.__file__))
            if spy is not None:
                spy.install(module)
            _, state = await stack.enter_async_context(running(module.app))
            instances.append(Instance(module, state))
        yield instances


@asynccontextmanager
async def redis_probe(exercise: ModuleType) -> AsyncIterator[Any]:
    """A Redis client of the check's own, on the server the apps use."""
    probe = exercise.redis_from_env()
    try:
        yield probe
    finally:
        await probe.aclose()


async def subscribers(probe: Any, channel: str) -> int:
    [(_, count)] = await probe.pubsub_numsub(channel)
    return count


async def settled_subscribers(probe: Any, channel: str, expected: int) -> int:
    """NUMSUB once Redis has read what the app sent it: a real server may be a command late."""
    for _ in range(ROUND_TRIPS):
        count = await subscribers(probe, channel)
        if count == expected:
            break
    return count


class Watched(Peer):
    """A peer that reads the room's subscribers from Redis the moment joined is sent."""

    def __init__(self, path: str, state: dict[str, Any], probe: Any, channel: str) -> None:
        super().__init__(path, state, [])
        self.probe = probe
        self.channel = channel
        self.subscribers_at_joined: int | None = None

    async def _send(self, message: dict[str, Any]) -> None:
        if '"joined"' in (message.get("text") or "") and self.subscribers_at_joined is None:
            self.subscribers_at_joined = await subscribers(self.probe, self.channel)
        await super()._send(message)


@asynccontextmanager
async def member(
    instance: Instance, room: str, *, members: int | None = None, probe: Any = None
) -> AsyncIterator[Peer]:
    """A client in ``room`` on ``instance``, once its joined frame has come.

    With ``probe``, the room's channel must have its subscriber at the moment joined is sent.
    """
    path = f"/ws/{room}"
    if probe is None:
        async with connect(instance.app, instance.state, path) as peer:
            await expect_joined(peer, room, members)
            yield peer
        return
    peer = Watched(path, instance.state, probe, f"chat:{room}")
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(peer.run, instance.app)
            try:
                first = await peer.handshake()
                if first is None or first["type"] != "websocket.accept":
                    got = "the handler ended" if first is None else first["type"]
                    raise Failure(f"expected the server to accept the connection, not {got}")
                await expect_joined(peer, room, members)
                at_joined = peer.subscribers_at_joined
                expect(
                    at_joined is not None and at_joined >= 1,
                    f"expected the room's channel chat:{room} to have its subscriber when "
                    f"joined was sent, but Redis counted {at_joined}",
                    help=NOT_CONFIRMED,
                )
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


async def next_frame(peer: Peer, waiting_for: str, *, help: str) -> Any:
    """The peer's next frame; a failure when none comes before the hang guard."""
    try:
        return await peer.receive_json()
    except TimeoutError:
        raise Failure(f"expected {waiting_for}, but no frame came", help=help) from None


async def expect_joined(peer: Peer, room: str, members: int | None) -> None:
    frame = await next_frame(peer, "the joined frame", help=NOT_CONFIRMED)
    kind = frame.get("type") if isinstance(frame, dict) else frame
    expect_equal("first frame's type", "joined", kind)
    if members is not None:
        expected = {"type": "joined", "room": room, "members": members}
        expect_equal("joined frame", expected, frame, help=MEMBERS)


async def leaves(peer: Peer) -> None:
    """The client closes; its handler must return, raising nothing."""
    peer.close()
    await peer.ended()
    raised = peer.raised
    expect(
        raised is None,
        f"expected the handler to return quietly after the client left, but it raised "
        f"{type(raised).__name__}: {raised}",
        help=LEAVING_RAISED,
    )


async def say(peer: Peer, text: str) -> None:
    peer.send_json({"type": "say", "text": text})


async def expect_line(peer: Peer, room: str, text: str, *, help: str) -> None:
    frame = await next_frame(peer, f"the line {text!r}", help=help)
    expect_equal("frame", message(room, text), frame, help=help)


@pytest.fixture(autouse=True)
def services(redis_url: str | None) -> None:
    """Each check's instances share one Redis, named by the environment."""


# -- the joined acknowledgement --------------------------------------------------------------


async def test_joined_after_subscription(exercise):
    """joined is sent only once the room's channel is subscribed"""
    room = new_room()
    async with (
        cluster(exercise, 1) as [a],
        redis_probe(exercise) as probe,
        member(a, room, members=1, probe=probe),
    ):
        pass


async def test_joined_waits_for_confirmation(exercise):
    """joined waits until the listener has read Redis's subscribe confirmation"""
    room = new_room()
    spy = Spy()
    async with cluster(exercise, 1, spy=spy) as [a]:
        spy.hold = True
        async with connect(a.app, a.state, f"/ws/{room}") as alice:
            try:
                with anyio.fail_after(HANG_GUARD):
                    await spy.held.wait()
            except TimeoutError:
                raise Failure(
                    f"expected the pub/sub connection to read Redis's confirmation of "
                    f"chat:{room}, but none came",
                    help=NOT_CONFIRMED,
                ) from None
            await anyio.wait_all_tasks_blocked()
            early = [m.get("text") for m in alice.sent if '"joined"' in (m.get("text") or "")]
            expect(
                not early,
                f"expected joined only once the confirmation of chat:{room} was read, but "
                f"it was sent before: {early[0] if early else ''}",
                help=NOT_CONFIRMED,
            )
            spy.release.set()
            await expect_joined(alice, room, 1)
            await leaves(alice)


async def test_one_subscription_per_instance(exercise):
    """an instance subscribes to a room once, however many of its sockets are in it"""
    room = new_room()
    channel = f"chat:{room}"
    async with (
        cluster(exercise) as [a, b],
        redis_probe(exercise) as probe,
        member(a, room, members=1, probe=probe),
        member(a, room, members=2),
    ):
        count = await settled_subscribers(probe, channel, 1)
        expect_equal(f"subscribers of {channel}", 1, count, help=ONE_SUBSCRIPTION)
        async with member(b, room, members=1, probe=probe):
            count = await settled_subscribers(probe, channel, 2)
            expect_equal(f"subscribers of {channel}", 2, count, help=ONE_SUBSCRIPTION)


# -- fan-out ---------------------------------------------------------------------------------


async def test_line_reaches_other_instance(exercise):
    """a line said on one instance reaches the room on the other"""
    room = new_room()
    async with cluster(exercise) as [a, b], member(a, room) as alice, member(b, room) as bob:
        await say(alice, "hello from a")
        await expect_line(bob, room, "hello from a", help=NOT_FANNED_OUT)
        await expect_line(alice, room, "hello from a", help=NOT_FANNED_OUT)
        await say(bob, "hello from b")
        await expect_line(alice, room, "hello from b", help=NOT_FANNED_OUT)
        await expect_line(bob, room, "hello from b", help=NOT_FANNED_OUT)


async def test_every_socket_gets_a_line_once(exercise):
    """every socket of the room gets each line exactly once, the sender included"""
    room = new_room()
    async with (
        cluster(exercise) as [a, b],
        member(a, room) as alice,
        member(a, room) as carol,
        member(b, room) as bob,
    ):
        await say(alice, "one")
        for peer in (alice, carol, bob):
            await expect_line(peer, room, "one", help=NOT_FANNED_OUT)
        await say(bob, "two")  # published after "one" came back: Redis keeps the order
        for peer in (alice, carol, bob):
            await expect_line(peer, room, "two", help=TWICE)


async def test_rooms_kept_apart(exercise):
    """a line reaches only its own room, on every instance"""
    lobby, kitchen = new_room(), new_room()
    async with (
        cluster(exercise) as [a, b],
        member(a, lobby) as alice,
        member(b, lobby) as bob,
        member(a, kitchen) as carol,
        member(b, kitchen) as dave,
    ):
        await say(alice, "lobby line")
        await expect_line(bob, lobby, "lobby line", help=NOT_FANNED_OUT)
        await expect_line(alice, lobby, "lobby line", help=NOT_FANNED_OUT)
        await say(dave, "kitchen line")
        await expect_line(carol, kitchen, "kitchen line", help=OTHER_ROOM)
        await expect_line(dave, kitchen, "kitchen line", help=OTHER_ROOM)


# -- leaving ---------------------------------------------------------------------------------


async def test_subscription_kept_while_room_has_members(exercise):
    """an instance stays subscribed while one of its sockets is still in the room"""
    room = new_room()
    async with cluster(exercise) as [a, b], member(a, room) as alice:
        async with member(a, room) as carol:
            await leaves(carol)
        async with member(b, room) as bob:
            await say(bob, "still there?")
            await expect_line(alice, room, "still there?", help=STILL_SUBSCRIBED)


async def test_unsubscribes_when_room_empties(exercise):
    """the last socket of a room to leave an instance unsubscribes it"""
    room = new_room()
    channel = f"chat:{room}"
    async with cluster(exercise, 1) as [a], redis_probe(exercise) as probe:
        async with member(a, room, probe=probe) as alice, member(a, room) as carol:
            await leaves(alice)
            await leaves(carol)
        count = await settled_subscribers(probe, channel, 0)
        expect_equal(
            f"subscribers of {channel} after everyone left", 0, count, help=NOT_UNSUBSCRIBED
        )


async def test_room_joined_again_after_emptying(exercise):
    """a room that emptied is subscribed again by the next socket to join it"""
    room = new_room()
    async with cluster(exercise) as [a, b], redis_probe(exercise) as probe:
        async with member(a, room) as alice:
            alice.close()
            await alice.ended()
        await settled_subscribers(probe, f"chat:{room}", 0)
        async with member(a, room, members=1, probe=probe) as carol, member(b, room) as bob:
            await say(bob, "welcome back")
            await expect_line(carol, room, "welcome back", help=STALE_ROOM)


async def test_vanished_peer_does_not_silence_instance(exercise):
    """a socket whose peer vanished leaves the room and stops no delivery"""
    room = new_room()
    async with (
        cluster(exercise) as [a, b],
        member(a, room) as ghost,
        member(a, room) as alice,
        member(a, room) as carol,
        member(b, room) as bob,
    ):
        ghost.vanish()
        await say(bob, "one")
        for peer in (alice, carol, bob):
            await expect_line(peer, room, "one", help=LISTENER_DIED)
        await say(bob, "two")
        for peer in (alice, carol, bob):
            await expect_line(peer, room, "two", help=LISTENER_DIED)
        async with connect(a.app, a.state, f"/ws/{room}") as dave:
            joined = {"type": "joined", "room": room, "members": 3}  # the ghost is gone
            expect_equal("joined frame", joined, await dave.receive_json(), help=DEAD_KEPT)
        await leaves(ghost)  # a socket the delivery removed already


# -- shutdown --------------------------------------------------------------------------------


def running_tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if not task.done()}


async def test_shutdown_stops_listener(exercise):
    """shutdown cancels the listener task and leaves nothing running"""
    room = new_room()
    spy = Spy()
    before = running_tasks()
    try:
        async with cluster(exercise, 1, spy=spy) as [a], member(a, room) as alice:
            await say(alice, "bye")
            await expect_line(alice, room, "bye", help=NOT_FANNED_OUT)
            await leaves(alice)
    except Failure:
        raise
    except Exception as exc:
        message = f"expected the app to shut down cleanly, but it raised {type(exc).__name__}"
        raise Failure(message, help=SHUTDOWN_RAISED) from None
    left = running_tasks() - before
    names = sorted(task.get_name() + ": " + repr(task.get_coro()) for task in left)
    expect(
        not left,
        f"expected no task left running after shutdown, not {len(left)}: {names}",
        help=LEFTOVER_TASK,
    )
    expect(
        not spy.readers_running_at_close,
        f"expected the listener task to have finished when the pub/sub connection was "
        f"closed, but it was still running: {spy.readers_running_at_close}",
        help=NOT_AWAITED,
    )
    closed = sorted(set(spy.closed))
    expect_equal("connections closed at shutdown", ["client", "pubsub"], closed, help=NOT_CLOSED)
