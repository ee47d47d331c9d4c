"""Hidden suite for 13_resilience/01_shared_client: one bounded client, failures mapped.

Most checks hand `create_app` an httpx.MockTransport whose async handler plays the
inventory service from a script: an answer, or an exception raised as a transport raises
it. The clients the app makes are counted by replacing `httpx.AsyncClient` with a subclass
that remembers each one (the checks' own client, on an ASGITransport, is not counted).

The connection limits are a pool's, and a pool exists only without an injected transport:
those checks run a real HTTP/1.1 inventory on 127.0.0.1 (asyncio.start_server, port 0)
that holds every request until the check lets the whole burst go, so the check knows how
many requests are in flight. It waits for the expected number (an event, bounded by
WAIT_S), then gives the event loop SETTLE_STEPS turns to let one more through if the
pool would (a loopback connection takes a few turns), then counts. No sleeps, no clocks.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

from workbook.testing import (
    HANG_GUARD,
    Failure,
    client_for,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    running,
)

UPSTREAM = "http://inventory.internal"
ITEM = {"sku": "sku-1", "available": 7, "warehouse": "north"}
STOCK = {"sku": "sku-1", "available": 7}
TIMEOUTS = {"connect": 2.0, "read": 5.0, "write": 5.0, "pool": 5.0}
MAX_CONNECTIONS = 4
KEEPALIVE = 2
WAIT_S = 2.0  # how long a check waits for requests to arrive: they take microseconds
SETTLE_STEPS = 200  # turns of the event loop a request over the limit gets to show up
PROBLEM_JSON = "application/problem+json"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")

SHARED_HELP = (
    "Is an httpx.AsyncClient made for each request (in the route or in a dependency)? "
    "Open one in the lifespan, yield it in the state, and hand that one to every request."
)
AT_IMPORT_HELP = (
    "Does the lifespan open the client, each time the app starts? Make it there, as "
    "httpx.AsyncClient(...): not when the module is imported, nor in create_app."
)
CLOSE_HELP = (
    "Is the client closed when the app shuts down? Open it with async with around the "
    "lifespan's yield."
)
CLOSED_EARLY_HELP = (
    "Is the client closed before the app shuts down, by an async with that ends too "
    "soon, or by a request? The lifespan's client lives until the shutdown."
)
TIMEOUT_HELP = (
    "Is the client opened with timeout=TIMEOUT? Without it httpx waits 5 seconds for "
    "everything, the connection included."
)
TRANSPORT_HELP = (
    "Is the client opened with base_url=upstream and transport=transport, as create_app "
    "got them? Without the transport the request leaves for the real network."
)
LIMIT_HELP = (
    "Is the client opened with limits=LIMITS? Without it httpx opens up to 100 "
    "connections at once, and a client per request has no limit at all."
)
KEEPALIVE_HELP = (
    "Is the client opened with limits=LIMITS, whose max_keepalive_connections=2 keeps two "
    "idle connections for the next requests and closes the others?"
)
NOT_FOUND_HELP = "Does an upstream 404 become a 404 problem with the detail NOT_FOUND?"
STATUS_HELP = (
    "Is every upstream status other than 200 and 404 a 502? An upstream 4xx is not the "
    "client's mistake to fix, and raise_for_status alone makes it a 500."
)
BODY_HELP = (
    "Do you trust the upstream's 200 body? Validate it as a Stock and make a "
    "ValidationError a 502: a broken upstream is not your 500."
)
TIMEOUT_STATUS_HELP = (
    "Is httpx.TimeoutException caught before httpx.TransportError? A timeout is a "
    "TransportError too, and it has its own status: 504."
)
TRANSPORT_STATUS_HELP = (
    "Is httpx.TransportError caught and turned into a 502 problem? A connection the "
    "upstream refuses or drops must not be a 500."
)
TOO_WIDE_HELP = (
    "Do you catch more than httpx.TransportError (Exception, or httpx.HTTPError)? An error "
    "that is not the network's is a bug, and a 500 says so."
)


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


Script = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Inventory:
    """The scripted inventory: an httpx.MockTransport whose async handler runs `script`."""

    def __init__(self, script: Script | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.script = script or found
        self.transport = httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.script(request)

    @property
    def urls(self) -> list[str]:
        return [f"{request.method} {request.url}" for request in self.requests]


async def found(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=ITEM)


def answering(status: int, **kwargs: Any) -> Script:
    async def script(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, **kwargs)

    return script


def raising(error: type[Exception]) -> Script:
    async def script(request: httpx.Request) -> httpx.Response:
        if issubclass(error, httpx.RequestError):
            raise error("the inventory is out of reach", request=request)
        raise error("a bug in the network layer")

    return script


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> list[httpx.AsyncClient]:
    """Every httpx.AsyncClient the app makes while the check runs, in order."""
    made: list[httpx.AsyncClient] = []
    real = httpx.AsyncClient

    class Counted(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if not isinstance(kwargs.get("transport"), httpx.ASGITransport):
                made.append(self)

    monkeypatch.setattr(httpx, "AsyncClient", Counted)
    return made


async def fetch(exercise: ModuleType, script: Script) -> httpx.Response:
    """GET /stock/sku-1 from a new app on the scripted inventory; an escaping error is a 500."""
    inventory = Inventory(script)
    app = exercise.create_app(transport=inventory.transport)
    async with client_for(app, raise_app_exceptions=False) as client:
        return await client.get("/stock/sku-1")


# -- answers -------------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the old service already answers a found item")
async def test_found(exercise: ModuleType) -> None:
    """an item the inventory has: 200 with its sku and available count, asked at /items/{sku}"""
    inventory = Inventory()
    async with client_for(exercise.create_app(transport=inventory.transport)) as client:
        response = await client.get("/stock/sku-1")
    expect_status(response, 200, help=TRANSPORT_HELP)
    expect_json(response, STOCK)
    expect_equal("requests to the inventory", [f"GET {UPSTREAM}/items/sku-1"], inventory.urls)


@pytest.mark.stub_may_pass("the old service already sends its requests to the upstream given")
async def test_upstream_given(exercise: ModuleType) -> None:
    """create_app(upstream) sends the requests to that base URL"""
    inventory = Inventory()
    app = exercise.create_app("http://stock.test:8080", transport=inventory.transport)
    async with client_for(app) as client:
        response = await client.get("/stock/sku-9")
    expect_status(response, 200, help=TRANSPORT_HELP)
    expect_equal(
        "requests to the inventory", ["GET http://stock.test:8080/items/sku-9"], inventory.urls
    )


async def test_not_found(exercise: ModuleType) -> None:
    """an upstream 404 is a 404 problem: NOT_FOUND"""
    response = await fetch(exercise, answering(404, json={"error": "unknown"}))
    expect_status(response, 404, help=NOT_FOUND_HELP)
    expect_header(response, "content-type", PROBLEM_JSON)
    expect_json(response, problem(404, "Not Found", exercise.NOT_FOUND))


@pytest.mark.parametrize("status", [201, 204, 304, 400, 403, 405, 429, 499, 500, 503, 599])
async def test_other_status(exercise: ModuleType, status: int) -> None:
    """an upstream {status} is a 502 problem: BAD_GATEWAY"""
    response = await fetch(exercise, answering(status, json=ITEM))
    expect_status(response, 502, help=STATUS_HELP)
    expect_header(response, "content-type", PROBLEM_JSON)
    expect_json(response, problem(502, "Bad Gateway", exercise.BAD_GATEWAY))


BROKEN_BODIES = {
    "not JSON": {"content": b"<html>maintenance</html>"},
    "no available count": {"json": {"sku": "sku-1"}},
    "a count that is not a number": {"json": {"sku": "sku-1", "available": "many"}},
}


@pytest.mark.parametrize("body", BROKEN_BODIES)
async def test_broken_body(exercise: ModuleType, body: str) -> None:
    """a 200 with a broken body ({body}) is a 502 problem: BAD_GATEWAY"""
    response = await fetch(exercise, answering(200, **BROKEN_BODIES[body]))
    expect_status(response, 502, help=BODY_HELP)
    expect_json(response, problem(502, "Bad Gateway", exercise.BAD_GATEWAY))


TRANSPORT_ERRORS = [
    httpx.ConnectError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
]


@pytest.mark.parametrize("error", TRANSPORT_ERRORS, ids=lambda error: error.__name__)
async def test_transport_error(exercise: ModuleType, error: type[Exception]) -> None:
    """an httpx transport error that is not a timeout is a 502 problem: BAD_GATEWAY"""
    response = await fetch(exercise, raising(error))
    expect_status(response, 502, help=TRANSPORT_STATUS_HELP)
    expect_header(response, "content-type", PROBLEM_JSON)
    expect_json(response, problem(502, "Bad Gateway", exercise.BAD_GATEWAY))


TIMEOUTS_RAISED = [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout]


@pytest.mark.parametrize("error", TIMEOUTS_RAISED, ids=lambda error: error.__name__)
async def test_timeout(exercise: ModuleType, error: type[Exception]) -> None:
    """every httpx timeout is a 504 problem: GATEWAY_TIMEOUT"""
    response = await fetch(exercise, raising(error))
    expect_status(response, 504, help=TIMEOUT_STATUS_HELP)
    expect_header(response, "content-type", PROBLEM_JSON)
    expect_json(response, problem(504, "Gateway Timeout", exercise.GATEWAY_TIMEOUT))


@pytest.mark.stub_may_pass("the old service lets every error through")
@pytest.mark.parametrize("error", [RuntimeError, httpx.DecodingError], ids=lambda e: e.__name__)
async def test_other_errors_not_mapped(exercise: ModuleType, error: type[Exception]) -> None:
    """an error that is not an httpx.TransportError is not mapped: it ends in a 500"""
    response = await fetch(exercise, raising(error))
    expect_status(response, 500, help=TOO_WIDE_HELP)


# -- the client ----------------------------------------------------------------------------


async def test_timeouts_on_every_request(exercise: ModuleType) -> None:
    """every request to the inventory carries TIMEOUT: connect 2 s, read, write, pool 5 s"""
    inventory = Inventory()
    async with client_for(exercise.create_app(transport=inventory.transport)) as client:
        for sku in ("sku-1", "sku-2"):
            expect_status(await client.get(f"/stock/{sku}"), 200, help=TRANSPORT_HELP)
    sent = [request.extensions.get("timeout") for request in inventory.requests]
    expect_equal("list of timeouts sent", [TIMEOUTS, TIMEOUTS], sent, help=TIMEOUT_HELP)


async def test_one_client_per_run(exercise: ModuleType, clients: list[Any]) -> None:
    """the app opens one client when it starts, none before, and none per request"""
    inventory = Inventory()
    app = exercise.create_app(transport=inventory.transport)
    expect_equal("clients made by create_app", 0, len(clients), help=AT_IMPORT_HELP)
    async with running(app) as (client, _):
        expect_equal("clients made when the app started", 1, len(clients), help=AT_IMPORT_HELP)
        for _ in range(3):
            expect_status(await client.get("/stock/sku-1"), 200, help=TRANSPORT_HELP)
        expect_equal("clients made after three requests", 1, len(clients), help=SHARED_HELP)


async def test_closed_at_shutdown(exercise: ModuleType, clients: list[Any]) -> None:
    """the client stays open while the app serves, and is closed when it shuts down"""
    inventory = Inventory()
    async with running(exercise.create_app(transport=inventory.transport)) as (client, _):
        for _ in range(2):
            expect_status(await client.get("/stock/sku-1"), 200, help=TRANSPORT_HELP)
        expect_equal(
            "clients made", 1, len(clients), help=SHARED_HELP if clients else AT_IMPORT_HELP
        )
        open_while_serving = not clients[0].is_closed
    expect_equal(
        "client open while the app serves", True, open_while_serving, help=CLOSED_EARLY_HELP
    )
    closed = clients[0].is_closed
    expect_equal("client closed after the shutdown", True, closed, help=CLOSE_HELP)


async def test_new_client_per_start(exercise: ModuleType, clients: list[Any]) -> None:
    """an app started twice opens a new client at each start, and closes each at shutdown"""
    inventory = Inventory()
    app = exercise.create_app(transport=inventory.transport)
    for start in (1, 2):
        async with running(app) as (client, _):
            made = len(clients)
            response = await client.get("/stock/sku-1")
        expect_equal(f"clients made by {start} start(s)", start, made, help=AT_IMPORT_HELP)
        expect_status(response, 200, help=TRANSPORT_HELP)
    closed = sum(made.is_closed for made in clients)
    expect_equal("clients closed after two runs", 2, closed, help=CLOSE_HELP)


# -- the pool, against a real server -------------------------------------------------------


@dataclass
class Server:
    """A real inventory on 127.0.0.1: every request waits until the check opens the gate."""

    url: str = ""
    accepted: int = 0  # connections accepted so far
    held: int = 0  # requests waiting at the gate
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    writers: set[asyncio.StreamWriter] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                sku = head.split(b" ", 2)[1].rsplit(b"/", 1)[-1].decode()
                gate = self.gate
                self.held += 1
                self.notify()
                await gate.wait()
                self.held -= 1  # before answering: the client reuses the connection after
                body = json.dumps({"sku": sku, "available": 3}).encode()
                head = (
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n" % len(body)
                )
                writer.write(head + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            self.writers.discard(writer)
            writer.close()

    async def until_held(self, count: int) -> None:
        """Wait until `count` requests are held; give up after WAIT_S."""
        with anyio.move_on_after(WAIT_S):
            while self.held < count:
                await self.changed.wait()


@asynccontextmanager
async def real_inventory(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    for name in PROXY_VARIABLES:  # a proxy from the environment must not carry the requests
        monkeypatch.delenv(name, raising=False)
    server = Server()
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.gate.set()
        for writer in list(server.writers):
            writer.close()
        listening.close()
        await listening.wait_closed()


async def settle() -> None:
    """Give every request the pool lets through the time to reach the server."""
    for _ in range(SETTLE_STEPS):
        await anyio.lowlevel.checkpoint()


async def burst(client: httpx.AsyncClient, server: Server, count: int) -> int:
    """Send `count` requests at once; the most the server held before the gate opened.

    Every request must then be answered 200 once the gate opens.
    """
    server.gate = asyncio.Event()
    answers: list[httpx.Response] = []

    async def one(number: int) -> None:
        answers.append(await client.get(f"/stock/sku-{number}"))

    with anyio.fail_after(HANG_GUARD):
        async with anyio.create_task_group() as group:
            for number in range(count):
                group.start_soon(one, number)
            await server.until_held(min(count, MAX_CONNECTIONS))
            await settle()
            held = server.held
            server.gate.set()
    for response in answers:
        expect_status(response, 200, help=TRANSPORT_HELP)
    return held


async def test_connection_limit(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """six requests at once reach the inventory on exactly four connections: the rest wait"""
    async with (
        real_inventory(monkeypatch) as server,
        client_for(exercise.create_app(server.url)) as client,
    ):
        held = await burst(client, server, MAX_CONNECTIONS + 2)
    if held > MAX_CONNECTIONS:
        raise Failure(
            f"expected at most {MAX_CONNECTIONS} requests at the inventory at once, not {held}",
            help=LIMIT_HELP if held == MAX_CONNECTIONS + 2 else SHARED_HELP,
        )
    expect_equal("requests at the inventory at once", MAX_CONNECTIONS, held, help=LIMIT_HELP)


async def test_idle_connections_kept(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """after a burst two idle connections are kept: the next four requests open two new ones"""
    async with (
        real_inventory(monkeypatch) as server,
        client_for(exercise.create_app(server.url)) as client,
    ):
        await burst(client, server, MAX_CONNECTIONS + 2)
        before = server.accepted
        held = await burst(client, server, MAX_CONNECTIONS)
        opened = server.accepted - before
    expect_equal("requests at the inventory at once", MAX_CONNECTIONS, held, help=LIMIT_HELP)
    expect_equal(
        "new connections for the second burst",
        MAX_CONNECTIONS - KEEPALIVE,
        opened,
        help=SHARED_HELP if opened == MAX_CONNECTIONS else KEEPALIVE_HELP,
    )
