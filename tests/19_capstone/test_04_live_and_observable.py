"""Hidden suite for 19_capstone/04_live_and_observable: live events, access logs, metrics, probes.

Every check starts the app on a fresh, empty database and an empty Redis (the `database_url`
and `redis_url` fixtures: SQLite and the embedded fakeredis, or real servers when
DATABASE_URL and REDIS_URL name them) and goes through HTTP and WebSocket only. The app's
`now` clock is replaced by one the checks set, and the Argon2 of `password_hash` by its
cheapest form, as in steps 2 and 3. A check that times a request replaces the module's
`ticks` too, with the checks' clock: time then moves only when the app reads `now`.

WebSockets are driven in the test's own event loop (`Peer`, below), with the lifespan state
a server would hand them: a check waits for frames, never sleeps. Events on one Redis
subscription arrive in order, so to prove that nothing else came, a check makes one more
write and reads its event as the very next frame. "Two instances" are two copies of the
module, each loaded afresh (its own module state) and running its own lifespan, on one
database and one Redis: the embedded server is shared by handing both copies clients of one
fakeredis server through `redis_from_env`. PUBLISH commands are seen through the
`execute_command` of the state's "redis" client, commits through SQLAlchemy's `commit`
event; a commit the database refuses is a listener on that event that raises.

Access records are kept by a handler on the `tracker.access` logger and formatted with the
module's own `JsonFormatter`; metrics are read from `/metrics` with prometheus_client's own
parser. The checks form a chain: steps 1 to 3 first, briefly, then the WebSocket, the
events, the logs, the metrics and the probes, and the fuzzer last.
"""

import asyncio
import importlib.util
import json
import logging
import math
import re
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import anyio
import httpx
import jwt
import pytest
from fakeredis import FakeAsyncRedis, FakeServer
from prometheus_client.parser import text_string_to_metric_families
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import event, make_url
from sqlalchemy.engine import Engine

from workbook.loader import load_copy
from workbook.services import (
    UNREACHABLE_REDIS_URL,
    count_statements,
    drop_database,
    real_redis_url,
)
from workbook.testing import (
    HANG_GUARD,
    AppStartError,
    Failure,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    response_json,
    running,
)


def _load_fuzzing() -> ModuleType:
    """fuzzing.py beside this file, loaded by path: the grader imports test files one by one."""
    name = "capstone_fuzzing"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("fuzzing.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fuzzing = _load_fuzzing()

pytestmark = pytest.mark.filterwarnings("error")

JWT_SECRET = "capstone-checks-secret-of-at-least-32-bytes"
T0 = 1_800_000_000.0  # a whole number of minutes since the epoch
WINDOW = 60
LIMIT = 10
PASSWORD = "correct horse battery staple"
NOT_FOUND = {"detail": "Task not found"}
READY = {"database": "ok", "redis": "ok"}
REQUEST_ID = "X-Request-ID"
ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
LONGEST_ID = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"  # 64 characters
UNMATCHED = "<unmatched>"
REQUESTS = "http_requests_total"

NO_ROUTE = "Does the route {route} still answer as in the steps before?"
NOT_REFUSED = (
    "Is the token checked before the handshake is accepted? A dependency of the /ws route "
    "that reads ?token=, checks it as the Bearer routes do (signature, expiry by `now`, a user "
    "it names) and raises WebSocketException(status.WS_1008_POLICY_VIOLATION) refuses the "
    "handshake: the client never sees an accept."
)
NOT_ACCEPTED = (
    "Does /ws accept a valid token given as ?token=...? Check it in a dependency of the "
    "route, then websocket.accept()."
)
NO_EVENT = (
    "Does each successful write publish its event on Redis once its change is committed "
    "(PUBLISH through the state's \"redis\" client), and does the instance's listener, "
    "subscribed since the lifespan started, hand it to the user's sockets as a text frame "
    '{"event": ..., "task": ...}? Register the socket as soon as it is accepted.'
)
EVENT_BODY = (
    'Is the frame {"event": "created" | "updated" | "deleted", "task": ...} with the task as '
    "the route answered it (for a delete, the task as it was just before)?"
)
FAILED_WRITE = (
    "Is an event published for a write that did not succeed? Only a write that answers "
    "201, 200 or 204 publishes, after its commit: a 404, a 422, a 401 or a 429 publishes "
    "nothing."
)
OTHER_USER = (
    "Does a user get another user's events? Deliver an event only to the sockets of the user "
    "who owns the task: a channel per user (tracker:...:{username}), or the username in the "
    "message and a filter in the listener."
)
ONCE_PER_SOCKET = (
    "Does every socket of the user get each event exactly once? A socket registered twice, or "
    "an event delivered both at once and again when it comes back from Redis, arrives twice."
)
NOT_SHARED = (
    "Does an event reach the sockets of the other instance? Publish it on Redis and let every "
    "instance's listener deliver it to its own sockets; a registry of sockets in memory only "
    "reaches the instance that made the write."
)
BEFORE_COMMIT = (
    "Is the event published before the change is committed? With the session dependency, the "
    "commit comes after the route returns: commit in the route (await session.commit()), "
    "then publish. A client told of a change must be able to read it."
)
ROLLED_BACK = (
    "Is an event published for a write whose commit failed? Publish after "
    "`await session.commit()` has returned, so a failed commit publishes nothing."
)
LOST_WRITE = (
    "Does a failed PUBLISH fail the write? Send it through the same guard as the cache "
    "commands (a RedisError is skipped): the change is committed, only the event is lost."
)
VANISHED = (
    "Does one failing send stop the delivery? A send to a socket whose peer vanished raises "
    "WebSocketDisconnect: catch it per socket, drop that socket from its user's set, and go "
    "on, or the listener task ends and the instance stops hearing Redis (or tries the dead "
    "socket again, and Starlette refuses)."
)
RESUBSCRIBE = (
    "Does the listener outlive a Redis outage? Started while Redis refused, it must catch "
    "the RedisError, wait RESUBSCRIBE_DELAY (asyncio.sleep, read when it waits) and "
    "subscribe again, in a loop, so that events flow once Redis answers."
)
LEFTOVER = (
    "Is the listener task cancelled at shutdown, and awaited (suppressing CancelledError) "
    "before Redis is closed? A task left running outlives the app."
)
LEFT = (
    "Does the handler end quietly when the client leaves, and take the socket out of the "
    "user's set? Catch WebSocketDisconnect around the receive loop; remove it in a finally."
)
ONE_LINE = (
    "Does the middleware log exactly one record on tracker.access per HTTP request, after "
    "the app has returned or raised (in a finally), with the request's fields as `extra`?"
)
FIELDS = (
    "Does the access record carry request_id, method, route, status and duration_ms "
    "(extra={...}), and does JsonFormatter write them with level, logger and message as one "
    "JSON object?"
)
ROUTE = (
    "Is route the template of the route that matched (scope['route'].path, read after the "
    "app has run), and UNMATCHED when no route matched? Never the raw path."
)
STATUS = (
    "Is status the one of the http.response.start message the app sent, and 500 when the "
    "app raised before starting a response?"
)
LEVEL = 'Is the level "ERROR" when the status is 500 or more, and "INFO" below?'
DURATION = (
    "Is duration_ms (ticks() after the app returned - ticks() before calling it) * 1000, in "
    "milliseconds, and is ticks() read when the request is served (the module's function, "
    "looked up then), so the checks can replace it?"
)
ECHOED = (
    "Is an X-Request-ID the client sent kept when it is 1 to 64 characters, each an ASCII "
    "letter or digit, '-', '_' or '.', and otherwise replaced by a new id? The same id goes "
    "in the response's X-Request-ID header and in the access line."
)
GENERATED = (
    "Is a new id made for every request that sent none (uuid.uuid4().hex, say), and put in "
    "the response header as well as in the line?"
)
COUNTED = (
    "Does the middleware count every HTTP request once in http_requests_total, labelled by "
    "method, route template (UNMATCHED when none matched) and status as a string?"
)
EXPOSITION = (
    "Does GET /metrics answer generate_latest(the app's registry) with media type "
    "CONTENT_TYPE_LATEST, and is /metrics itself left out of the counts?"
)
PER_APP = (
    "Is the registry made in the lifespan, one per start of the app (CollectorRegistry(), "
    "the counter registered with registry=...)? prometheus_client's global REGISTRY keeps "
    "counting across starts, and refuses a second copy of the module."
)
ALIVE = '/healthz answers 200 {"status": "ok"} while the process runs: does it check a dependency?'
READY_HELP = (
    "Does /readyz run SELECT 1 on the database and PING on Redis, each bounded by "
    'CHECK_TIMEOUT, and answer 200 {"database": "ok", "redis": "ok"} when both answer, and '
    '503 with the one that failed as "down" otherwise? Check again on every request.'
)
STARTS = (
    "Does the app start when Redis is down? The lifespan may wait a moment for the "
    "subscription, never fail: the listener keeps trying (catch RedisError, wait, subscribe "
    "again)."
)
DOCUMENTED = (
    "Are /healthz and /readyz in the OpenAPI, with the 503 of /readyz documented "
    "(responses={503: ...}), and are /metrics (include_in_schema=False) and /ws left out?"
)


class Clock:
    """The app's `now`: seconds since the epoch, moved by the checks; `step` per reading."""

    def __init__(self, t: float = T0, step: float = 0.0) -> None:
        self.t = t
        self.step = step

    async def __call__(self) -> float:
        value = self.t
        self.t += self.step
        return value


@pytest.fixture(autouse=True)
def services(database_url: str, redis_url: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each check gets an empty database and an empty Redis, and the app a JWT secret."""
    monkeypatch.setenv("JWT_SECRET", JWT_SECRET)


def cheapen(module: ModuleType) -> None:
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    module.password_hash = cheap
    module.DUMMY_HASH = cheap.hash("not anybody's password")


@pytest.fixture(autouse=True)
def cheap_hashes(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest in place of the app's `password_hash` and `DUMMY_HASH`."""
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(exercise, "password_hash", cheap)
    monkeypatch.setattr(exercise, "DUMMY_HASH", cheap.hash("not anybody's password"))


@pytest.fixture(autouse=True)
def clock(exercise: ModuleType) -> Iterator[Clock]:
    """The app's `now` dependency answers this clock, set to T0, during each check."""
    clock = Clock()
    overrides = exercise.app.dependency_overrides
    overrides[exercise.now] = clock
    try:
        yield clock
    finally:
        overrides.pop(exercise.now, None)


@pytest.fixture
def names() -> SimpleNamespace:
    """Usernames new in every check: no check hears another's events on a shared Redis."""
    tag = uuid.uuid4().hex[:8]
    return SimpleNamespace(ada=f"ada_{tag}", bob=f"bob_{tag}")


@pytest.fixture
def timed(exercise: ModuleType, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The module's `ticks` reads the checks' clock: a request lasts what `now` moved."""
    monkeypatch.setattr(exercise, "ticks", lambda: clock.t)
    return clock


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class AccessLog:
    """The records of tracker.access, formatted with the module's JsonFormatter and parsed."""

    def __init__(self, exercise: ModuleType) -> None:
        self.exercise = exercise
        self.handler = Records()

    def clear(self) -> None:
        self.handler.records.clear()

    def lines(self) -> list[dict[str, Any]]:
        return [self.parse(record) for record in self.handler.records]

    def line(self) -> dict[str, Any]:
        """The one line of the one request made since the last clear()."""
        lines = self.lines()
        expect_equal("records on tracker.access for one request", 1, len(lines), help=ONE_LINE)
        return lines[0]

    def parse(self, record: logging.LogRecord) -> dict[str, Any]:
        text = self.exercise.JsonFormatter().format(record)
        expect(isinstance(text, str), f"expected format() to return a str, not {text!r}")
        expect("\n" not in text, f"expected one line, not {text[:300]!r}", help=FIELDS)
        try:
            value = json.loads(text)
        except ValueError:
            raise Failure(f"expected a JSON object, not {text[:300]!r}", help=FIELDS) from None
        expect(isinstance(value, dict), f"expected a JSON object, not {text[:300]!r}", help=FIELDS)
        return value


@pytest.fixture
def access(exercise: ModuleType) -> Iterator[AccessLog]:
    log = AccessLog(exercise)
    logger = logging.getLogger("tracker.access")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(log.handler)
    try:
        yield log
    finally:
        logger.removeHandler(log.handler)
        logger.setLevel(level)


@asynccontextmanager
async def tracker(
    exercise: ModuleType, *, raise_app_exceptions: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """The app running on a fresh database and an empty Redis, and its lifespan state."""
    async with running(exercise.app, raise_app_exceptions=raise_app_exceptions) as (
        client,
        state,
    ):
        yield client, state


async def add_user(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """A user signed up and logged in: headers with their token."""
    signed = await client.post("/users", json={"username": username, "password": PASSWORD})
    expect_status(signed, 201, help=NO_ROUTE.format(route="POST /users"))
    login = await client.post("/token", data={"username": username, "password": PASSWORD})
    expect_status(login, 200, help=NO_ROUTE.format(route="POST /token"))
    return {"Authorization": f"Bearer {response_json(login).get('access_token')}"}


def token(username: str, *, issued: float = T0, lasts: int = 15 * 60, secret: str = "") -> str:
    """A token for `username`, signed as the app signs its own (or with another secret)."""
    claims = {"sub": username, "iat": int(issued), "exp": int(issued) + lasts}
    return jwt.encode(claims, secret or JWT_SECRET, algorithm="HS256")


def bearer(username: str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(username, **kwargs)}"}


async def create(
    client: httpx.AsyncClient, auth: dict[str, str], title: str = "Write the report"
) -> dict[str, Any]:
    response = await client.post("/tasks", json={"title": title}, headers=auth)
    expect_status(response, 201, help=NO_ROUTE.format(route="POST /tasks"))
    return response_json(response)


def without_created_at(task: Any) -> Any:
    return {**task, "created_at": None} if isinstance(task, dict) else task


# -- an in-process WebSocket peer ----------------------------------------------------------


class Peer:
    """One WebSocket client, talking to an app in the test's own event loop.

    The app runs as a task of the check, with our own ``receive`` and ``send``: what the app
    sends is queued for :meth:`receive`; every wait has a hang guard (``HANG_GUARD``) that
    only stops an app that never answers.
    """

    def __init__(self, path: str, state: dict[str, Any]) -> None:
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
            "headers": [(b"host", b"test")],
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
            "state": dict(state),  # as servers do: a shallow copy of the lifespan state
        }
        streams = anyio.create_memory_object_stream[dict[str, Any]]
        self._to_app, self._app_inbox = streams(math.inf)
        self._from_app, self._outbox = streams(math.inf)
        self.raised: BaseException | None = None
        self.finished = anyio.Event()
        self.gone = False
        self._to_app.send_nowait({"type": "websocket.connect"})

    async def _receive(self) -> dict[str, Any]:
        return await self._app_inbox.receive()

    async def _send(self, message: dict[str, Any]) -> None:
        if self.gone or self.finished.is_set():
            # what a server's send raises once the peer is gone (Starlette: WebSocketDisconnect)
            raise OSError("the peer has gone")
        self._from_app.send_nowait(message)

    async def run(self, app: Any) -> None:
        try:
            await app(self.scope, self._receive, self._send)
        except Exception as exc:
            self.raised = exc
        finally:
            self.finished.set()
            self._from_app.close()

    async def next_message(self) -> dict[str, Any] | None:
        with anyio.fail_after(HANG_GUARD):
            try:
                return await self._outbox.receive()
            except anyio.EndOfStream:
                return None

    async def receive_json(self, waiting_for: str, *, help: str) -> Any:
        """The next frame, a text frame holding JSON; a failure for anything else."""
        try:
            message = await self.next_message()
        except TimeoutError:
            raise Failure(f"expected {waiting_for}, but no frame came", help=help) from None
        if message is None:
            raise Failure(f"expected {waiting_for}, but the handler ended", help=help)
        if message["type"] == "websocket.close":
            code = message.get("code")
            raise Failure(f"expected {waiting_for}, but the server closed ({code})", help=help)
        text = message.get("text")
        if text is None:
            raise Failure(f"expected {waiting_for} as a text frame, not {message!r}", help=help)
        try:
            return json.loads(text)
        except ValueError:
            raise Failure(f"expected a frame holding JSON, not {text!r}", help=help) from None

    def close(self, code: int = 1000) -> None:
        """The client closes: the app's receive answers ``websocket.disconnect``."""
        self._to_app.send_nowait({"type": "websocket.disconnect", "code": code})

    def vanish(self) -> None:
        """The peer drops off the network: sends fail, receive keeps waiting."""
        self.gone = True

    async def ended(self) -> None:
        try:
            with anyio.fail_after(HANG_GUARD):
                await self.finished.wait()
        except TimeoutError:
            raise Failure(
                "expected the handler to return after the client left, but it kept running",
                help=LEFT,
            ) from None

    def close_streams(self) -> None:
        for stream in (self._to_app, self._app_inbox, self._from_app, self._outbox):
            stream.close()


@asynccontextmanager
async def opened(app: Any, state: dict[str, Any], path: str) -> AsyncIterator[Peer]:
    """A WebSocket to ``app`` at ``path``, whatever the app answers to the handshake.

    On leaving, the client closes (1000) unless the app has ended, and the handler must end.
    """
    peer = Peer(path, state)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(peer.run, app)
            try:
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
        peer.close_streams()


@asynccontextmanager
async def listening(app: Any, state: dict[str, Any], username: str) -> AsyncIterator[Peer]:
    """A socket of ``username`` on /ws, once the app has accepted its handshake."""
    async with opened(app, state, f"/ws?token={token(username, lasts=10**6)}") as peer:
        first = await peer.next_message()
        if first is None or first["type"] != "websocket.accept":
            got = "the handler ended" if first is None else first
            raise Failure(
                f"expected the server to accept a valid token, not {got}", help=NOT_ACCEPTED
            )
        yield peer


def same_task(what: str, expected: dict[str, Any], actual: Any, *, help: str) -> None:
    expect_equal(what, without_created_at(expected), without_created_at(actual), help=help)
    try:
        moment = datetime.fromisoformat(actual["created_at"])
    except (TypeError, ValueError, KeyError):
        moment = None
    expect_equal(
        f"{what}: created_at", datetime.fromisoformat(expected["created_at"]), moment, help=help
    )


async def expect_event(peer: Peer, kind: str, task: dict[str, Any], *, help: str) -> None:
    """The peer's next frame is the event ``kind`` of ``task``."""
    frame = await peer.receive_json(f"the {kind!r} event of task {task['id']}", help=help)
    expect(isinstance(frame, dict), f"expected an object as the frame, not {frame!r}", help=help)
    expect_equal("event", kind, frame.get("event"), help=help)
    same_task(f"task of the {kind!r} event", task, frame.get("task"), help=EVENT_BODY)


class Instance:
    """One running copy of the app: its module, its lifespan state, its client."""

    def __init__(self, module: ModuleType, client: httpx.AsyncClient, state: dict[str, Any]):
        self.module = module
        self.app = module.app
        self.client = client
        self.state = state


@asynccontextmanager
async def cluster(
    exercise: ModuleType, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Instance, Instance]]:
    """Two instances on one database and one Redis: the module, and a fresh copy of it."""
    try:
        copy = load_copy(Path(exercise.__file__))
    except Exception as exc:
        raise Failure(
            f"expected a second copy of the module to load, but it raised {exc!r}", help=PER_APP
        ) from None
    cheapen(copy)
    copy.app.dependency_overrides[copy.now] = clock
    if real_redis_url() is None:  # the embedded server: one for both copies
        server = FakeServer()

        def shared() -> Any:
            return FakeAsyncRedis(server=server, decode_responses=True)

        monkeypatch.setattr(exercise, "redis_from_env", shared)
        copy.redis_from_env = shared
    async with AsyncExitStack() as stack:
        client, state = await stack.enter_async_context(running(exercise.app))
        other_client, other_state = await stack.enter_async_context(running(copy.app))
        yield Instance(exercise, client, state), Instance(copy, other_client, other_state)


@contextmanager
def journal(state: dict[str, Any]) -> Iterator[list[str]]:
    """ "commit" at each commit of any engine, "publish" at each PUBLISH of the app's client."""
    entries: list[str] = []
    redis = state["redis"]
    execute = redis.execute_command

    async def execute_command(*args: Any, **kwargs: Any) -> Any:
        if args and str(args[0]).upper() == "PUBLISH":
            entries.append("publish")
        return await execute(*args, **kwargs)

    def committed(connection: Any) -> None:
        entries.append("commit")

    redis.execute_command = execute_command
    event.listen(Engine, "commit", committed)
    try:
        yield entries
    finally:
        event.remove(Engine, "commit", committed)
        del redis.execute_command


@contextmanager
def refused_commits() -> Iterator[None]:
    """Every commit fails while the block runs, as a database that refuses it would."""

    def refuse(connection: Any) -> None:
        raise RuntimeError("the database refused to commit")

    event.listen(Engine, "commit", refuse)
    try:
        yield
    finally:
        event.remove(Engine, "commit", refuse)


@contextmanager
def failing_redis(state: dict[str, Any]) -> Iterator[None]:
    """Every command of the app's Redis client fails to connect while the block runs."""
    redis = state["redis"]

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("Error 111 connecting to Redis. Connection refused.")

    redis.execute_command = refuse
    try:
        yield
    finally:
        del redis.execute_command


class Refusal:
    """Every new connection of a Redis client class fails while begun, as a Redis down does."""

    def __init__(self, cls: Any) -> None:
        self.cls = cls
        self.own = cls.__dict__.get("connect")
        self.active = False

    def begin(self) -> None:
        async def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
            raise RedisConnectionError("Error 111 connecting to Redis. Connection refused.")

        self.cls.connect = refuse
        self.active = True

    def end(self) -> None:
        if not self.active:
            return
        if self.own is None:
            del self.cls.connect
        else:
            self.cls.connect = self.own
        self.active = False


ROUND_TRIPS = 50  # Redis asked again until the app's listener has had its chance to subscribe


async def subscriptions(probe: Any) -> int:
    return int(await probe.pubsub_numpat()) + len(await probe.pubsub_channels())


async def settled_subscriptions(probe: Any, before: int) -> None:
    """Round trips to Redis until it counts more subscriptions, or ROUND_TRIPS have passed."""
    for _ in range(ROUND_TRIPS):
        if await subscriptions(probe) > before:
            return


# -- steps 1 to 3: the service so far -------------------------------------------------------


@pytest.mark.stub_may_pass("steps 1 to 3 are given")
async def test_sign_up_log_in_and_list(exercise):
    """a new user signs up (201), logs in with the password form and lists no tasks"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        response = await client.get("/tasks", headers=auth)
    expect_status(response, 200, help=NO_ROUTE.format(route="GET /tasks"))
    expect_json(response, {"items": [], "next": None})


@pytest.mark.stub_may_pass("steps 1 to 3 are given")
@pytest.mark.requires("test_sign_up_log_in_and_list")
async def test_create_read_patch_delete(exercise):
    """a task is created (201, Location), read, patched and deleted (204); others' are 404"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        bob = await add_user(client, "bob")
        created = await client.post("/tasks", json={"title": "  Plan  "}, headers=auth)
        expect_status(created, 201, help=NO_ROUTE.format(route="POST /tasks"))
        task = response_json(created)
        expect_header(created, "location", f"/tasks/{task['id']}")
        read = await client.get(f"/tasks/{task['id']}", headers=auth)
        theirs = await client.get(f"/tasks/{task['id']}", headers=bob)
        patched = await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=auth)
        deleted = await client.delete(f"/tasks/{task['id']}", headers=auth)
        gone = await client.get(f"/tasks/{task['id']}", headers=auth)
    expect_equal("title", "Plan", task["title"])
    expect_status(read, 200, help=NO_ROUTE.format(route="GET /tasks/{task_id}"))
    same_task(
        "task read", task, response_json(read), help=NO_ROUTE.format(route="GET /tasks/{task_id}")
    )
    expect_status(theirs, 404)
    expect_json(theirs, NOT_FOUND)
    expect_status(patched, 200, help=NO_ROUTE.format(route="PATCH /tasks/{task_id}"))
    expect_equal("done", True, response_json(patched)["done"])
    expect_status(deleted, 204, help=NO_ROUTE.format(route="DELETE /tasks/{task_id}"))
    expect_status(gone, 404)
    expect_json(gone, NOT_FOUND)


@pytest.mark.stub_may_pass("steps 1 to 3 are given")
@pytest.mark.requires("test_create_read_patch_delete")
async def test_second_read_is_cached_and_writes_are_limited(exercise):
    """a second read sends no SQL; the 11th write in a window answers 429 with Retry-After"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        await client.get(f"/tasks/{task['id']}", headers=auth)
        with count_statements() as statements:
            hit = await client.get(f"/tasks/{task['id']}", headers=auth)
        writes = [
            await client.patch(f"/tasks/{task['id']}", json={"notes": f"{n}"}, headers=auth)
            for n in range(LIMIT - 1)
        ]
        over = await client.post("/tasks", json={"title": "one too many"}, headers=auth)
    expect_status(hit, 200)
    expect_equal("SQL statements for a cached read", 0, statements.count)
    for response in writes:
        expect_status(response, 200)
    expect_status(over, 429)
    expect_header(over, "retry-after", "60")


@pytest.mark.stub_may_pass("steps 1 to 3 are given")
@pytest.mark.requires("test_create_read_patch_delete")
async def test_redis_down_still_answers(exercise, monkeypatch):
    """with Redis refusing, the app starts, and writes and reads answer from the database"""
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS_URL)
    try:
        async with tracker(exercise, raise_app_exceptions=False) as (client, _):
            auth = await add_user(client, "ada")
            created = await client.post("/tasks", json={"title": "offline"}, headers=auth)
            task_id = response_json(created).get("id") if created.status_code == 201 else 1
            patched = await client.patch(f"/tasks/{task_id}", json={"done": True}, headers=auth)
            read = await client.get(f"/tasks/{task_id}", headers=auth)
            deleted = await client.delete(f"/tasks/{task_id}", headers=auth)
    except AppStartError as error:
        raise Failure(
            f"expected the app to start without Redis, not {error}", help=STARTS
        ) from None
    expect_status(created, 201, help=LOST_WRITE)
    expect_status(patched, 200, help=LOST_WRITE)
    expect_status(read, 200)
    expect_equal("done", True, response_json(read)["done"])
    expect_status(deleted, 204, help=LOST_WRITE)


# -- the WebSocket: the token first ---------------------------------------------------------

BAD_TOKENS = {
    "missing": lambda: "/ws",
    "empty": lambda: "/ws?token=",
    "garbage": lambda: "/ws?token=not.a.token",
    "other-secret": lambda: (
        f"/ws?token={token('ada', secret='another-secret-of-at-least-32-bytes')}"
    ),
    "expired": lambda: f"/ws?token={token('ada', issued=T0 - 15 * 60)}",
    "unknown-user": lambda: f"/ws?token={token('nobody')}",
}


@pytest.mark.requires("test_sign_up_log_in_and_list")
@pytest.mark.parametrize("kind", list(BAD_TOKENS))
async def test_ws_refuses_a_bad_token_before_accepting(exercise, kind):
    """/ws closes with 1008 before accepting a missing, invalid, expired or unknown token"""
    async with tracker(exercise) as (client, state):
        await add_user(client, "ada")
        async with opened(exercise.app, state, BAD_TOKENS[kind]()) as peer:
            first = await peer.next_message()
    expect(first is not None, "expected the server to answer the handshake", help=NOT_REFUSED)
    assert first is not None
    expect_equal("answer to the handshake", "websocket.close", first["type"], help=NOT_REFUSED)
    expect_equal("close code", 1008, first.get("code"), help=NOT_REFUSED)


@pytest.mark.requires("test_sign_up_log_in_and_list")
async def test_ws_accepts_a_valid_token_until_it_expires(exercise, clock):
    """/ws accepts a valid token, the last second before its expiry included"""
    async with tracker(exercise) as (client, state):
        await add_user(client, "ada")
        clock.t = T0 + 15 * 60 - 1
        path = f"/ws?token={token('ada')}"
        async with opened(exercise.app, state, path) as peer:
            first = await peer.next_message()
        clock.t = T0 + 15 * 60
        async with opened(exercise.app, state, path) as late:
            expired = await late.next_message()
    expect(first is not None, "expected the server to accept the handshake", help=NOT_ACCEPTED)
    assert first is not None
    expect_equal("answer to the handshake", "websocket.accept", first["type"], help=NOT_ACCEPTED)
    expect(expired is not None, "expected the server to answer the handshake")
    assert expired is not None
    expect_equal("answer at the expiry", "websocket.close", expired["type"], help=NOT_REFUSED)


# -- events: through Redis, to their user only, after the commit ----------------------------


@pytest.mark.requires("test_ws_accepts_a_valid_token_until_it_expires")
async def test_own_writes_arrive_as_events(exercise, names):
    """each write of the user arrives on their socket: created, updated, deleted, in order"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, names.ada)
        async with listening(exercise.app, state, names.ada) as peer:
            task = await create(client, auth, "Plan the week")
            await expect_event(peer, "created", task, help=NO_EVENT)
            patched = await client.patch(
                f"/tasks/{task['id']}", json={"done": True, "notes": "n"}, headers=auth
            )
            await expect_event(peer, "updated", response_json(patched), help=NO_EVENT)
            same = await client.patch(f"/tasks/{task['id']}", json={}, headers=auth)
            await expect_event(peer, "updated", response_json(same), help=NO_EVENT)
            deleted = await client.delete(f"/tasks/{task['id']}", headers=auth)
            expect_status(deleted, 204)
            await expect_event(peer, "deleted", response_json(patched), help=EVENT_BODY)


@pytest.mark.requires("test_own_writes_arrive_as_events")
async def test_failed_writes_send_no_event(exercise, names, clock):
    """a write answering 404, 422, 401 or 429 sends no event"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, names.ada)
        bob = await add_user(client, names.bob)
        task = await create(client, auth)
        async with listening(exercise.app, state, names.ada) as peer:
            failed = [
                await client.patch(f"/tasks/{task['id'] + 1}", json={"done": True}, headers=auth),
                await client.delete(f"/tasks/{task['id'] + 1}", headers=auth),
                await client.patch(f"/tasks/{task['id']}", json={"title": None}, headers=auth),
                await client.post("/tasks", json={"title": "  "}, headers=auth),
                await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=bob),
                await client.patch(f"/tasks/{task['id']}", json={"done": True}),
            ]
            answers = [response.status_code for response in failed]
            expect_equal("answers to the failed writes", [404, 404, 422, 422, 404, 401], answers)
            clock.t += WINDOW
            marker = await create(client, auth, "marker")
            await expect_event(peer, "created", marker, help=FAILED_WRITE)
            for n in range(LIMIT - 1):
                await client.patch(f"/tasks/{task['id']}", json={"notes": f"{n}"}, headers=auth)
                await peer.receive_json(f"the event of write {n + 2}", help=NO_EVENT)
            over = await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=auth)
            expect_status(over, 429)
            clock.t += WINDOW
            last = await create(client, auth, "after the window")
            await expect_event(peer, "created", last, help=FAILED_WRITE)


@pytest.mark.requires("test_own_writes_arrive_as_events")
async def test_events_reach_only_their_user(exercise, names):
    """a user's socket gets their own events and never another user's"""
    async with tracker(exercise) as (client, state):
        ada = await add_user(client, names.ada)
        bob = await add_user(client, names.bob)
        async with (
            listening(exercise.app, state, names.ada) as adas,
            listening(exercise.app, state, names.bob) as bobs,
        ):
            theirs = await create(client, bob, "bob's")
            await client.patch(f"/tasks/{theirs['id']}", json={"done": True}, headers=bob)
            mine = await create(client, ada, "ada's")
            await expect_event(adas, "created", mine, help=OTHER_USER)
            await expect_event(bobs, "created", theirs, help=NO_EVENT)
            more = await create(client, bob, "bob's again")
            updated = await bobs.receive_json("the 'updated' event of bob's task", help=NO_EVENT)
            expect_equal("event", "updated", updated.get("event"), help=OTHER_USER)
            await expect_event(bobs, "created", more, help=OTHER_USER)


@pytest.mark.requires("test_own_writes_arrive_as_events")
async def test_every_socket_of_the_user_gets_each_event_once(exercise, names):
    """two sockets of one user both get each event, exactly once"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, names.ada)
        async with (
            listening(exercise.app, state, names.ada) as phone,
            listening(exercise.app, state, names.ada) as laptop,
        ):
            first = await create(client, auth, "first")
            second = await create(client, auth, "second")
            for peer in (phone, laptop):
                await expect_event(peer, "created", first, help=NO_EVENT)
                await expect_event(peer, "created", second, help=ONCE_PER_SOCKET)


@pytest.mark.requires("test_every_socket_of_the_user_gets_each_event_once")
async def test_a_socket_that_leaves_is_forgotten(exercise, names):
    """a socket whose client leaves ends quietly; the user's other sockets still get events"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, names.ada)
        async with listening(exercise.app, state, names.ada) as stays:
            async with listening(exercise.app, state, names.ada) as leaves:
                leaves.close()
                await leaves.ended()
            expect(
                leaves.raised is None,
                f"expected the handler to end quietly, not {leaves.raised!r}",
                help=LEFT,
            )
            task = await create(client, auth)
            await expect_event(stays, "created", task, help=LEFT)


@pytest.mark.requires("test_every_socket_of_the_user_gets_each_event_once")
async def test_a_vanished_client_stops_no_event(exercise, names):
    """a socket whose client vanished is dropped; the user's other sockets get every event"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, names.ada)
        async with (
            listening(exercise.app, state, names.ada) as ghost,
            listening(exercise.app, state, names.ada) as stays,
        ):
            ghost.vanish()
            for title in ("one", "two", "three"):
                task = await create(client, auth, title)
                await expect_event(stays, "created", task, help=VANISHED)


@pytest.mark.requires("test_own_writes_arrive_as_events")
async def test_events_flow_again_after_a_redis_outage(exercise, names, monkeypatch):
    """started while Redis refused, the app subscribes once Redis answers, and events flow"""
    monkeypatch.setattr(exercise, "RESUBSCRIBE_DELAY", 0)
    probe = exercise.redis_from_env()
    refusal = Refusal(probe.connection_pool.connection_class)
    try:
        before = await subscriptions(probe)
        refusal.begin()
        async with tracker(exercise, raise_app_exceptions=False) as (client, state):
            auth = await add_user(client, names.ada)
            refusal.end()
            await settled_subscriptions(probe, before)
            async with listening(exercise.app, state, names.ada) as peer:
                task = await create(client, auth)
                await expect_event(peer, "created", task, help=RESUBSCRIBE)
    except AppStartError as error:
        raise Failure(
            f"expected the app to start without Redis, not {error}", help=STARTS
        ) from None
    finally:
        refusal.end()
        await probe.aclose()


def runs_code_of(task: asyncio.Task[Any], path: str) -> bool:
    """Whether a coroutine the task is in (awaiting another, and so on) comes from ``path``."""
    coro: Any = task.get_coro()
    while coro is not None:
        code = getattr(coro, "cr_code", None)
        if code is not None and code.co_filename == path:
            return True
        coro = getattr(coro, "cr_await", None)
    return False


def app_tasks(module: ModuleType) -> set[asyncio.Task[Any]]:
    """The tasks not done that run code of the module: the app's own, not the harness's."""
    return {
        task
        for task in asyncio.all_tasks()
        if not task.done() and runs_code_of(task, module.__file__)
    }


def described(tasks: set[asyncio.Task[Any]]) -> list[str]:
    """Each task by the coroutines it is in, outermost first: "listen", say."""
    names = []
    for task in tasks:
        chain, coro = [], task.get_coro()
        while coro is not None:
            chain.append(getattr(coro, "__qualname__", type(coro).__name__))
            coro = getattr(coro, "cr_await", None)
        names.append(" > ".join(chain))
    return sorted(names)


@pytest.mark.requires("test_own_writes_arrive_as_events")
async def test_shutdown_stops_the_listener_first(exercise, names, monkeypatch):
    """at shutdown the listener ends before Redis is closed, and no task is left running"""
    make = exercise.redis_from_env
    at_close: list[list[str]] = []

    def redis_from_env() -> Any:
        client = make()
        close = client.aclose

        async def aclose(*args: Any, **kwargs: Any) -> Any:
            at_close.append(described(app_tasks(exercise) - {asyncio.current_task()}))
            return await close(*args, **kwargs)

        client.aclose = aclose
        return client

    monkeypatch.setattr(exercise, "redis_from_env", redis_from_env)
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, names.ada)
        async with listening(exercise.app, state, names.ada) as peer:
            task = await create(client, auth)
            await expect_event(peer, "created", task, help=NO_EVENT)
    left = described(app_tasks(exercise))
    expect(at_close, "expected the lifespan to close the Redis client at shutdown", help=LEFTOVER)
    expect(
        not at_close[0],
        f"expected the listener to have ended when Redis was closed, but these still ran: "
        f"{at_close[0]}",
        help=LEFTOVER,
    )
    expect(not left, f"expected no task left running after shutdown, not {left}", help=LEFTOVER)


@pytest.mark.requires("test_every_socket_of_the_user_gets_each_event_once")
async def test_two_instances_share_events(exercise, names, clock, monkeypatch):
    """two instances on one Redis: a write on either reaches the user's sockets on both, once"""
    async with cluster(exercise, clock, monkeypatch) as (a, b):
        auth = await add_user(a.client, names.ada)
        async with (
            listening(a.app, a.state, names.ada) as on_a,
            listening(b.app, b.state, names.ada) as on_b,
        ):
            first = await create(a.client, auth, "written on a")
            await expect_event(on_b, "created", first, help=NOT_SHARED)
            await expect_event(on_a, "created", first, help=NO_EVENT)
            second = await create(b.client, auth, "written on b")
            await expect_event(on_a, "created", second, help=NOT_SHARED)
            await expect_event(on_b, "created", second, help=ONCE_PER_SOCKET)
            third = await create(a.client, auth, "on a again")
            for peer in (on_a, on_b):
                await expect_event(peer, "created", third, help=ONCE_PER_SOCKET)


@pytest.mark.requires("test_own_writes_arrive_as_events")
@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_published_after_the_commit(exercise, names, method):
    """a write publishes its event once, after its change is committed"""
    async with tracker(exercise) as (client, state):
        auth = await add_user(client, names.ada)
        task = await create(client, auth)
        path = f"/tasks/{task['id']}"
        with journal(state) as entries:
            if method == "POST":
                response = await client.post("/tasks", json={"title": "new"}, headers=auth)
            elif method == "PATCH":
                response = await client.patch(path, json={"done": True}, headers=auth)
            else:
                response = await client.delete(path, headers=auth)
    expect(response.is_success, f"expected the {method} to succeed, not {response.status_code}")
    expect_equal(f"PUBLISH commands for one {method}", 1, entries.count("publish"), help=NO_EVENT)
    first_commit = entries.index("commit") if "commit" in entries else len(entries)
    expect(
        first_commit < entries.index("publish"),
        f"expected the PUBLISH after the commit, not in this order: {entries}",
        help=BEFORE_COMMIT,
    )


@pytest.mark.requires("test_own_writes_arrive_as_events")
@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_failed_commit_sends_no_event(exercise, names, method):
    """a write whose commit fails publishes nothing"""
    async with tracker(exercise, raise_app_exceptions=False) as (client, state):
        auth = await add_user(client, names.ada)
        task = await create(client, auth)
        path = f"/tasks/{task['id']}"
        async with listening(exercise.app, state, names.ada) as peer:
            with refused_commits():
                if method == "POST":
                    response = await client.post("/tasks", json={"title": "lost"}, headers=auth)
                elif method == "PATCH":
                    response = await client.patch(path, json={"done": True}, headers=auth)
                else:
                    response = await client.delete(path, headers=auth)
            marker = await create(client, auth, "marker")
            await expect_event(peer, "created", marker, help=ROLLED_BACK)
    expect_status(response, 500)


# -- the access log: one JSON line per request ----------------------------------------------


@pytest.mark.requires("test_sign_up_log_in_and_list")
async def test_one_json_line_per_request(exercise, access, timed):
    """each request logs one JSON line: request id, method, route, status, duration in ms"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        start, timed.step = timed.t, 0.0123456
        access.clear()
        response = await client.get("/tasks", headers=auth)
        line = access.line()
    expect_status(response, 200)
    expected = {
        "level": "INFO",
        "logger": "tracker.access",
        "request_id": response.headers.get(REQUEST_ID),
        "method": "GET",
        "route": "/tasks",
        "status": 200,
        "duration_ms": round((start + 0.0123456 - start) * 1000, 3),  # 12.346
    }
    message = line.pop("message", None)
    expect(isinstance(message, str), f"expected a message string, not {message!r}", help=FIELDS)
    expect(
        response.headers.get(REQUEST_ID),
        f"expected an {REQUEST_ID} header on the answer",
        help=GENERATED,
    )
    for field in ("route", "status", "duration_ms"):
        help = {"route": ROUTE, "status": STATUS, "duration_ms": DURATION}[field]
        expect_equal(field, expected[field], line.get(field), help=help)
    expect_equal("line", expected, line, help=FIELDS)


REQUESTS_LOGGED = {
    "read": ("GET", "/tasks/{id}", None, 200, "/tasks/{task_id}"),
    "missing": ("GET", "/tasks/999", None, 404, "/tasks/{task_id}"),
    "invalid": ("POST", "/tasks", {"title": "  "}, 422, "/tasks"),
    "no-route": ("GET", "/no/such/page", None, 404, UNMATCHED),
    "wrong-method": ("PUT", "/tasks/{id}", None, 405, "/tasks/{task_id}"),
    "anonymous": ("GET", "/tasks", "anonymous", 401, "/tasks"),
    "probe": ("GET", "/healthz", "anonymous", 200, "/healthz"),
}


@pytest.mark.requires("test_one_json_line_per_request")
@pytest.mark.parametrize("case", list(REQUESTS_LOGGED))
async def test_line_has_route_template_and_status(exercise, access, case):
    """the line names the route template (never the raw path) and the status sent"""
    method, path, body, status, route = REQUESTS_LOGGED[case]
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        task = await create(client, auth)
        access.clear()
        headers = {} if body == "anonymous" else auth
        response = await client.request(
            method,
            path.replace("{id}", str(task["id"])),
            json=None if body == "anonymous" else body,
            headers=headers,
        )
        line = access.line()
    expect_status(response, status)
    expect_equal("route", route, line.get("route"), help=ROUTE)
    expect_equal("status", status, line.get("status"), help=STATUS)
    expect_equal("method", method, line.get("method"), help=FIELDS)
    expect_equal("level", "INFO", line.get("level"), help=LEVEL)


@pytest.mark.requires("test_one_json_line_per_request")
async def test_a_failed_request_is_logged_as_500(exercise, access):
    """a request that fails in the app is logged once, status 500, level ERROR"""
    async with tracker(exercise, raise_app_exceptions=False) as (client, _):
        auth = await add_user(client, "ada")
        access.clear()
        with refused_commits():
            response = await client.post("/tasks", json={"title": "lost"}, headers=auth)
        line = access.line()
    expect_status(response, 500)
    expect_equal("status", 500, line.get("status"), help=STATUS)
    expect_equal("route", "/tasks", line.get("route"), help=ROUTE)
    expect_equal("level", "ERROR", line.get("level"), help=LEVEL)


@pytest.mark.requires("test_one_json_line_per_request")
@pytest.mark.parametrize(
    "sent", ["abc", LONGEST_ID, "a.b_c-d", "7"], ids=["short", "64-chars", "punctuation", "one"]
)
async def test_request_id_is_echoed(exercise, access, sent):
    """an X-Request-ID of 1 to 64 letters, digits, '.', '_' or '-' is echoed and logged"""
    async with tracker(exercise) as (client, _):
        access.clear()
        response = await client.get("/healthz", headers={REQUEST_ID: sent})
        line = access.line()
    expect_header(response, REQUEST_ID, sent, help=ECHOED)
    expect_equal("request_id", sent, line.get("request_id"), help=ECHOED)


@pytest.mark.requires("test_one_json_line_per_request")
@pytest.mark.parametrize(
    "sent",
    [LONGEST_ID + "x", "has space", "é", "a/b", "", "new\nline"],
    ids=["65-chars", "space", "non-ascii", "slash", "empty", "line-break"],
)
async def test_unacceptable_request_id_is_replaced(exercise, access, sent):
    """any other X-Request-ID is replaced by a new id, in the header and in the line"""
    async with tracker(exercise) as (client, _):
        access.clear()
        request = client.build_request("GET", "/healthz")
        request.headers[REQUEST_ID] = sent.encode("utf-8").decode("latin-1")
        response = await client.send(request)
        line = access.line()
    given = response.headers.get(REQUEST_ID, "")
    expect(
        ACCEPTABLE_ID.fullmatch(given) is not None and given != sent,
        f"expected a new id in {REQUEST_ID}, not {given!r}",
        help=ECHOED,
    )
    expect_equal("request_id", given, line.get("request_id"), help=ECHOED)


@pytest.mark.requires("test_one_json_line_per_request")
async def test_each_request_gets_its_own_id(exercise, access):
    """without an X-Request-ID, each request gets a new one, the same in header and line"""
    async with tracker(exercise) as (client, _):
        access.clear()
        responses = [await client.get("/healthz") for _ in range(3)]
        lines = access.lines()
    ids = [response.headers.get(REQUEST_ID) for response in responses]
    for given in ids:
        expect(
            given is not None and ACCEPTABLE_ID.fullmatch(given) is not None,
            f"expected a generated {REQUEST_ID} on the answer, not {given!r}",
            help=GENERATED,
        )
    expect_equal("distinct ids", 3, len(set(ids)), help=GENERATED)
    expect_equal("ids in the lines", ids, [line.get("request_id") for line in lines], help=ONE_LINE)


# -- metrics: counted by route template, per app --------------------------------------------


async def counts(client: httpx.AsyncClient) -> dict[str, float]:
    """http_requests_total from /metrics, by "method route status"."""
    response = await client.get("/metrics")
    expect_status(response, 200, help=EXPOSITION)
    expect(
        response.headers.get("content-type", "").startswith("text/plain"),
        f"expected the Prometheus text format, not {response.headers.get('content-type')!r}",
        help=EXPOSITION,
    )
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name != REQUESTS:
                continue
            labels = sample.labels
            expect_equal(
                f"labels of {REQUESTS}", ["method", "route", "status"], sorted(labels), help=COUNTED
            )
            found[f"{labels['method']} {labels['route']} {labels['status']}"] = sample.value
    return found


@pytest.mark.requires("test_create_read_patch_delete")
async def test_metrics_count_requests_by_route_template(exercise):
    """/metrics counts requests by method, route template and status, not by raw path"""
    async with tracker(exercise) as (client, _):
        auth = await add_user(client, "ada")
        first = await create(client, auth, "first")
        second = await create(client, auth, "second")
        for task in (first, second, first):
            await client.get(f"/tasks/{task['id']}", headers=auth)
        await client.get("/tasks/999", headers=auth)
        await client.get("/tasks")
        await client.get("/no/such/page")
        await client.get("/not/here/either")
        found = await counts(client)
    expected = {
        "POST /users 201": 1.0,
        "POST /token 200": 1.0,
        "POST /tasks 201": 2.0,
        "GET /tasks/{task_id} 200": 3.0,
        "GET /tasks/{task_id} 404": 1.0,
        "GET /tasks 401": 1.0,
        f"GET {UNMATCHED} 404": 2.0,
    }
    expect_equal("requests counted", expected, found, help=COUNTED)


@pytest.mark.requires("test_metrics_count_requests_by_route_template")
async def test_metrics_leave_themselves_out_and_start_at_zero(exercise):
    """/metrics is not counted, and each start of the app counts from zero"""
    async with tracker(exercise) as (client, _):
        await client.get("/healthz")
        await counts(client)
        before = await counts(client)
    async with tracker(exercise) as (client, _):
        await client.get("/healthz")
        after = await counts(client)
    expect_equal("requests counted", {"GET /healthz 200": 1.0}, before, help=EXPOSITION)
    expect_equal("requests counted after a restart", {"GET /healthz 200": 1.0}, after, help=PER_APP)


# -- probes: alive is not ready --------------------------------------------------------------


@pytest.mark.requires("test_sign_up_log_in_and_list")
async def test_healthz_and_readyz_when_all_is_up(exercise):
    """/healthz answers 200 {"status": "ok"}; /readyz 200 with the database and Redis "ok\""""
    async with tracker(exercise) as (client, _):
        alive = await client.get("/healthz")
        with count_statements() as statements:
            ready = await client.get("/readyz")
    expect_status(alive, 200, help=ALIVE)
    expect_json(alive, {"status": "ok"}, help=ALIVE)
    expect_status(ready, 200, help=READY_HELP)
    expect_json(ready, READY, help=READY_HELP)
    expect(
        statements.count >= 1, "expected /readyz to send SELECT 1 to the database", help=READY_HELP
    )


@pytest.mark.requires("test_healthz_and_readyz_when_all_is_up")
async def test_readyz_503_when_redis_refuses(exercise, monkeypatch):
    """with Redis refusing from the start, /readyz answers 503 naming it; /healthz 200"""
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS_URL)
    try:
        async with tracker(exercise, raise_app_exceptions=False) as (client, _):
            ready = await client.get("/readyz")
            alive = await client.get("/healthz")
    except AppStartError as error:
        raise Failure(
            f"expected the app to start without Redis, not {error}", help=STARTS
        ) from None
    expect_status(ready, 503, help=READY_HELP)
    expect_json(ready, {"database": "ok", "redis": "down"}, help=READY_HELP)
    expect_status(alive, 200, help=ALIVE)


@pytest.mark.requires("test_healthz_and_readyz_when_all_is_up")
async def test_readyz_follows_redis_down_and_back(exercise):
    """/readyz answers 503 while Redis fails, and 200 again once it answers"""
    async with tracker(exercise, raise_app_exceptions=False) as (client, state):
        before = await client.get("/readyz")
        with failing_redis(state):
            during = await client.get("/readyz")
            alive = await client.get("/healthz")
        after = await client.get("/readyz")
    expect_status(before, 200, help=READY_HELP)
    expect_status(during, 503, help=READY_HELP)
    expect_json(during, {"database": "ok", "redis": "down"}, help=READY_HELP)
    expect_status(alive, 200, help=ALIVE)
    expect_status(after, 200, help=READY_HELP)
    expect_json(after, READY, help=READY_HELP)


@pytest.mark.requires("test_healthz_and_readyz_when_all_is_up")
async def test_readyz_503_when_the_database_is_gone(exercise, database_url):
    """with the database gone, /readyz answers 503 naming it; /healthz still 200"""
    async with tracker(exercise, raise_app_exceptions=False) as (client, state):
        before = await client.get("/readyz")
        await state["engine"].dispose()
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite":
            path = anyio.Path(url.database or "")
            await path.unlink()
            await path.mkdir()  # SQLite cannot open a folder: the database is not there
        else:
            await drop_database(database_url)
        during = await client.get("/readyz")
        alive = await client.get("/healthz")
    expect_status(before, 200, help=READY_HELP)
    expect_status(during, 503, help=READY_HELP)
    expect_json(during, {"database": "down", "redis": "ok"}, help=READY_HELP)
    expect_status(alive, 200, help=ALIVE)


# -- the OpenAPI, and the fuzzer over all of it ---------------------------------------------


@pytest.mark.requires("test_healthz_and_readyz_when_all_is_up")
def test_openapi_documents_the_probes_only(exercise):
    """the OpenAPI documents /healthz and /readyz (its 503 too), and not /metrics nor /ws"""
    paths = exercise.app.openapi()["paths"]
    expect("/healthz" in paths, "expected /healthz in the OpenAPI", help=DOCUMENTED)
    expect("/readyz" in paths, "expected /readyz in the OpenAPI", help=DOCUMENTED)
    expect(
        "503" in paths["/readyz"]["get"]["responses"],
        "expected the 503 of /readyz documented",
        help=DOCUMENTED,
    )
    expect("/metrics" not in paths, "expected /metrics left out of the OpenAPI", help=DOCUMENTED)
    expect("/ws" not in paths, "expected /ws left out of the OpenAPI", help=DOCUMENTED)


@pytest.mark.requires(
    "test_create_read_patch_delete",
    "test_second_read_is_cached_and_writes_are_limited",
    "test_openapi_documents_the_probes_only",
)
async def test_fuzzing_finds_no_error(exercise, clock):
    """generated requests with a valid token get no 5xx, only answers the OpenAPI documents"""
    async with running(exercise.app, raise_app_exceptions=False) as (client, _):
        auth = await add_user(client, "ada")
        for n in range(3):
            await create(client, auth, f"task {n}")
        # a token for the whole run, and a clock a window further at each request: the
        # limit is checked above, here every write reaches its route
        auth = bearer("ada", lasts=10**6)
        clock.step = WINDOW
        await fuzzing.fuzz(client, exercise.app.openapi(), headers=auth, skip=["/users", "/token"])
