"""Every snippet of lessons/12-websockets.md runs and does what the page says.

Most checks talk to the apps through Starlette's ``TestClient`` (the app in a portal thread);
the Outbox is driven in the test's own loop with a fake socket; three checks serve an app with
Uvicorn and talk to it with the ``websockets`` client, where the harness and a real server
differ. The fan-out checks request ``redis_url``: fakeredis's shared in-process server by
default, a real Redis when ``REDIS_URL`` is set.
"""

import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from workbook.loader import load_copy

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "12-websockets.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "12_websockets"
TESTED = {
    "lifecycle.py",
    "typed_messages.py",
    "rooms.py",
    "handshake.py",
    "fanout.py",
    "slow_consumers.py",
}


def fresh(filename: str) -> ModuleType:
    return load_copy(SNIPPETS / filename)


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "12_websockets/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


@asynccontextmanager
async def uvicorn_serving(app: Any, lifespan: str = "off") -> AsyncIterator[tuple[str, Any]]:
    """The app behind Uvicorn on a free port: its ws:// base URL and the server."""
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan=lifespan))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [sock])
            with anyio.fail_after(10):
                while not server.started:  # noqa: ASYNC110 -- uvicorn has no event to wait on
                    await anyio.sleep(0.01)
            try:
                yield f"ws://127.0.0.1:{port}", server
            finally:
                server.should_exit = True


# -- lifecycle.py: accept, frames, and who closes ------------------------------------------


def test_a_client_that_leaves_raises_websocketdisconnect_with_its_code() -> None:
    snippet = fresh("lifecycle.py")
    client = TestClient(snippet.app)
    with client.websocket_connect("/echo") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "HI"
    with client.websocket_connect("/echo") as ws:
        ws.close(4000)
    assert snippet.seen == ["the client left with 1000", "the client left with 4000"]


def test_the_server_closes_with_a_code_and_a_reason() -> None:
    snippet = fresh("lifecycle.py")
    with TestClient(snippet.app).websocket_connect("/echo") as ws:
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1000, "see you")
    assert snippet.seen == ["the server closed"]


def test_iter_text_ends_quietly_and_the_code_is_lost() -> None:
    snippet = fresh("lifecycle.py")
    with TestClient(snippet.app).websocket_connect("/shout") as ws:
        ws.send_text("a")
        assert ws.receive_text() == "A"
        ws.close(4001)
    assert snippet.seen == ["iter_text ended"]


def test_a_binary_frame_breaks_receive_text_with_a_keyerror() -> None:
    snippet = fresh("lifecycle.py")
    with (
        pytest.raises(KeyError, match="text"),  # raised on leaving: the handler failed
        TestClient(snippet.app).websocket_connect("/echo") as ws,
    ):
        ws.send_bytes(b"\x00")


# -- typed_messages.py: a bad frame gets an error frame ------------------------------------


def test_typed_frames_and_error_frames_on_one_connection() -> None:
    snippet = fresh("typed_messages.py")
    frames = {
        '{"type":"say","text":"hi"}': {"type": "said", "text": "hi"},
        '{"type":"ping"}': {"type": "pong"},
        '{"type":"ping","to":"bob"}': {
            "type": "error",
            "code": "extra_forbidden",
            "loc": ["ping", "to"],
        },
        "not json": {"type": "error", "code": "json_invalid", "loc": []},
        '{"type":"shout"}': {"type": "error", "code": "union_tag_invalid", "loc": []},
        '{"text":"hi"}': {"type": "error", "code": "union_tag_not_found", "loc": []},
        '{"type":"say"}': {"type": "error", "code": "missing", "loc": ["say", "text"]},
        '{"type":"say","text":""}': {
            "type": "error",
            "code": "string_too_short",
            "loc": ["say", "text"],
        },
        '{"type":"say","text":"' + "x" * 200 + '"}': {"type": "said", "text": "x" * 200},
        '{"type":"say","text":"' + "x" * 201 + '"}': {
            "type": "error",
            "code": "string_too_long",
            "loc": ["say", "text"],
        },
    }
    with TestClient(snippet.app).websocket_connect("/ws") as ws:
        for sent, expected in frames.items():
            ws.send_text(sent)
            assert ws.receive_json() == expected, sent
        ws.send_bytes(b'{"type":"ping"}')
        assert ws.receive_json() == {"type": "error", "code": "binary_frame", "loc": []}
        ws.send_text('{"type":"ping"}')
        assert ws.receive_json() == {"type": "pong"}


# -- rooms.py: a registry in the lifespan state, empty after every disconnect -------------


class DeadPeer:
    def __init__(self) -> None:
        self.attempts = 0

    async def send_text(self, data: str) -> None:
        self.attempts += 1
        raise WebSocketDisconnect(1006)


def test_a_broadcast_reaches_its_room_only() -> None:
    snippet = fresh("rooms.py")
    with (
        TestClient(snippet.app) as client,
        client.websocket_connect("/rooms/a") as a1,
        client.websocket_connect("/rooms/a") as a2,
        client.websocket_connect("/rooms/b") as b,
    ):
        rooms = client.app_state["rooms"]
        a1.send_text("for a")
        assert (a1.receive_text(), a2.receive_text()) == ("for a", "for a")
        b.send_text("for b")
        assert b.receive_text() == "for b"  # the first frame b gets: "for a" never came
        assert rooms.sizes() == {"a": 2, "b": 1}


def test_the_registry_is_empty_after_the_clients_leave() -> None:
    snippet = fresh("rooms.py")
    with TestClient(snippet.app) as client:
        rooms = client.app_state["rooms"]
        with client.websocket_connect("/rooms/a") as a1, client.websocket_connect("/rooms/a"):
            a1.send_text("x")
            assert a1.receive_text() == "x"
            assert rooms.sizes() == {"a": 2}
        assert rooms.sizes() == {}


def test_a_dead_peer_is_dropped_and_the_others_still_get_the_message() -> None:
    snippet = fresh("rooms.py")
    dead = DeadPeer()
    with TestClient(snippet.app) as client:
        rooms = client.app_state["rooms"]
        with client.websocket_connect("/rooms/a") as a1, client.websocket_connect("/rooms/a") as a2:
            rooms.join("a", dead)
            a1.send_text("x")
            assert (a1.receive_text(), a2.receive_text()) == ("x", "x")
            assert dead.attempts == 1
            assert rooms.sizes() == {"a": 2}
        assert rooms.sizes() == {}


def test_each_app_has_its_own_rooms() -> None:
    snippet = fresh("rooms.py")
    with TestClient(snippet.app) as one, TestClient(snippet.app) as two:
        assert one.app_state["rooms"] is not two.app_state["rooms"]


# -- handshake.py: 1008 before accept, and an expiry checked at each message --------------


@pytest.mark.parametrize("url", ["/ws", "/ws?token=", "/ws?token=t-bob"])
def test_a_missing_or_unknown_token_closes_with_1008_before_accept(url: str) -> None:
    snippet = fresh("handshake.py")
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        TestClient(snippet.app).websocket_connect(url),
    ):
        pytest.fail("the handshake was accepted")
    assert (closed.value.code, closed.value.reason) == (1008, "invalid or expired token")


def test_a_good_token_in_the_query_is_accepted_with_the_identity() -> None:
    snippet = fresh("handshake.py")
    snippet.app.dependency_overrides[snippet.get_clock] = lambda: lambda: 999.0
    with TestClient(snippet.app).websocket_connect("/ws?token=t-alice") as ws:
        assert ws.receive_json() == {"type": "hello", "user": "alice"}


def test_a_token_expired_at_connect_time_is_refused() -> None:
    snippet = fresh("handshake.py")
    snippet.app.dependency_overrides[snippet.get_clock] = lambda: lambda: 1000.0
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        TestClient(snippet.app).websocket_connect("/ws?token=t-alice"),
    ):
        pytest.fail("the handshake was accepted")
    assert closed.value.code == 1008


def test_dependencies_run_once_per_connection_and_expiry_is_checked_per_message() -> None:
    snippet = fresh("handshake.py")
    now = [10.0]
    calls = []

    def clock_once() -> Any:
        calls.append("resolved")
        return lambda: now[0]

    snippet.app.dependency_overrides[snippet.get_clock] = clock_once
    with TestClient(snippet.app).websocket_connect("/ws?token=t-alice") as ws:
        assert ws.receive_json()["type"] == "hello"
        for text in ("one", "two"):
            ws.send_text(text)
            assert ws.receive_json() == {"type": "said", "user": "alice", "text": text}
        now[0] = 999.999
        ws.send_text("just in time")
        assert ws.receive_json()["text"] == "just in time"
        now[0] = 1000.0
        ws.send_text("too late")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert (closed.value.code, closed.value.reason) == (1008, "token expired")
    assert calls == ["resolved"]


def test_the_subprotocol_carries_the_token_and_bearer_is_echoed() -> None:
    snippet = fresh("handshake.py")
    snippet.app.dependency_overrides[snippet.get_clock] = lambda: lambda: 1.0
    client = TestClient(snippet.app)
    with client.websocket_connect("/ws-protocol", subprotocols=["bearer", "t-alice"]) as ws:
        assert ws.accepted_subprotocol == "bearer"
        assert ws.receive_json() == {"type": "hello", "user": "alice"}
    for protocols in (["t-alice"], ["bearer", "t-bob"], None):
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            client.websocket_connect("/ws-protocol", subprotocols=protocols),
        ):
            pytest.fail("the handshake was accepted")
        assert closed.value.code == 1008


async def test_under_uvicorn_a_close_before_accept_is_an_http_403() -> None:
    snippet = fresh("handshake.py")
    async with uvicorn_serving(snippet.app) as (base, _):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{base}/ws?token=t-bob"):
                pytest.fail("the handshake was accepted")
    assert refused.value.response.status_code == 403


# -- fanout.py: two instances, one Redis ---------------------------------------------------


async def test_two_instances_deliver_each_others_messages_once(redis_url: str | None) -> None:
    snippet = fresh("fanout.py")
    channel = "chat:room:lobby"
    with TestClient(snippet.create_app()) as one, TestClient(snippet.create_app()) as two:
        redis = one.app_state["redis"]
        one.portal.call(redis.flushdb)
        with one.websocket_connect("/rooms/lobby") as a:
            assert a.receive_json() == {"type": "joined", "room": "lobby"}
            assert one.portal.call(redis.pubsub_numsub, channel) == [(channel, 1)]
            with two.websocket_connect("/rooms/lobby") as b:
                assert b.receive_json() == {"type": "joined", "room": "lobby"}
                a.send_text("from one")
                assert (a.receive_text(), b.receive_text()) == ("from one", "from one")
                b.send_text("from two")
                assert (a.receive_text(), b.receive_text()) == ("from two", "from two")
                a.send_text("again")
                assert a.receive_text() == "again"  # "from one" did not come twice
        assert one.portal.call(redis.pubsub_numsub, channel) == [(channel, 0)]


# -- slow_consumers.py: a bounded outbox, 1013 for the slow, 1001 at shutdown --------------


class StuckSocket:
    """A peer whose send never completes until the test says so."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.release = anyio.Event()

    async def send_text(self, data: str) -> None:
        await self.release.wait()
        self.sent.append(data)


class FastSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, data: str) -> None:
        self.sent.append(data)


async def test_a_stuck_consumer_is_stopped_with_1013_after_queue_size_plus_one() -> None:
    snippet = fresh("slow_consumers.py")
    hub = snippet.Hub()
    stuck, fast = snippet.Outbox(StuckSocket()), snippet.Outbox(FastSocket())
    hub.outboxes |= {stuck, fast}
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(stuck.drain)
            tasks.start_soon(fast.drain)
            hub.publish("0")
            await anyio.wait_all_tasks_blocked()  # the stuck sender holds "0"
            for n in range(1, snippet.QUEUE_SIZE + 1):
                hub.publish(str(n))
            assert stuck.close_code is None  # one in flight plus QUEUE_SIZE waiting
            hub.publish("overflow")
            assert stuck.close_code == 1013
            assert stuck.stopped.cancel_called
            await anyio.wait_all_tasks_blocked()
            expected = [str(n) for n in range(snippet.QUEUE_SIZE + 1)] + ["overflow"]
            assert fast.websocket.sent == expected
            assert fast.close_code is None
            tasks.cancel_scope.cancel()
    stuck.close()
    fast.close()


def test_in_the_testclient_a_client_that_never_reads_never_slows_the_server() -> None:
    snippet = fresh("slow_consumers.py")
    with (
        TestClient(snippet.app) as client,
        client.websocket_connect("/feed") as reader,
        client.websocket_connect("/feed") as idle,
    ):
        for n in range(50):
            reader.send_text(str(n))
        assert [reader.receive_text() for _ in range(50)] == [str(n) for n in range(50)]
        assert idle is not None
        assert all(outbox.close_code is None for outbox in client.app_state["hub"].outboxes)


def test_the_hub_closes_every_socket_with_1001() -> None:
    snippet = fresh("slow_consumers.py")
    with TestClient(snippet.app) as client:
        hub = client.app_state["hub"]
        with client.websocket_connect("/feed") as one, client.websocket_connect("/feed") as two:
            one.send_text("hi")
            assert (one.receive_text(), two.receive_text()) == ("hi", "hi")
            client.portal.call(hub.shut_down)
            for ws in (one, two):
                assert ws.receive() == {"type": "websocket.close", "code": 1001, "reason": ""}
        assert hub.outboxes == set()


async def test_under_uvicorn_the_server_closes_sockets_with_1012_before_the_lifespan_ends() -> None:
    snippet = fresh("slow_consumers.py")
    async with (
        uvicorn_serving(snippet.app, lifespan="on") as (base, server),
        connect(f"{base}/feed") as ws,
    ):
        await ws.send("hi")
        assert await ws.recv() == "hi"
        server.should_exit = True
        with anyio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1012


async def test_under_uvicorn_a_handler_that_fails_after_accept_sends_no_close_frame() -> None:
    snippet = fresh("lifecycle.py")
    async with uvicorn_serving(snippet.app) as (base, _), connect(f"{base}/echo") as ws:
        await ws.send(b"\x00")  # receive_text() meets a binary frame: KeyError
        with anyio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is None  # no close frame came: the client reports 1006
    assert closed.value.sent is None
