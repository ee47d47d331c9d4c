"""Every snippet of lessons/13-resilience.md runs and does what the page says.

Nothing here sleeps or measures time: retries get a recording ``sleep``, breakers and
buckets a clock the test moves, and concurrency is arranged with events. The checks that
talk to Redis request the ``redis_url`` fixture, so they run on fakeredis and again on a
real Redis when ``REDIS_URL`` is set. The claims about connection pools and httpx's own
retries talk to a small TCP server on the loopback interface.
"""

import asyncio
import math
import re
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpcore
import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from fakeredis import FakeAsyncRedis, FakeServer
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from workbook.loader import load_copy
from workbook.testing import HANG_GUARD, running

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "13-resilience.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "13_resilience"
TESTED = {
    "shared_client.py",
    "retries.py",
    "breaker.py",
    "quotes.py",
    "client_address.py",
    "token_bucket.py",
    "naive_bucket.py",
    "fallback.py",
}
NEIGHBOURS = ("breaker", "client_address", "token_bucket")
NOW = 1_900_000_000.0  # far from the wall clock on purpose


def fresh(filename: str) -> ModuleType:
    """A new copy of a snippet, and of the neighbours it imports by name."""
    for name in NEIGHBOURS:
        sys.modules.pop(name, None)
    return load_copy(SNIPPETS / filename)


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "13_resilience/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


@dataclass
class Clock:
    """A clock that moves only when the test says so."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class Upstream:
    """A scripted upstream: each request takes the next answer (a status, or an exception)."""

    script: list[Any]
    requests: list[httpx.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:  # an async handler
        self.requests.append(request)
        self.bodies.append(await request.aread())
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(answer, json={"status": answer})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


# -- a TCP server on the loopback interface that holds every request ------------------------


@dataclass
class HeldServer:
    """Counts open connections; answers each request once `release` is set."""

    status: int = 200
    open: int = 0
    peak: int = 0
    accepted: int = 0
    requests: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    reached: dict[int, asyncio.Event] = field(default_factory=dict)
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def at(self, connections: int) -> asyncio.Event:
        return self.reached.setdefault(connections, asyncio.Event())

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.accepted += 1
        self.idle.clear()
        self.peak = max(self.peak, self.open)
        if self.open in self.reached:
            self.reached[self.open].set()
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                await self.release.wait()
                reason = httpx.codes.get_reason_phrase(self.status)
                head = f"HTTP/1.1 {self.status} {reason}\r\nContent-Length: 2\r\n\r\nok"
                writer.write(head.encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()
            if self.open == 0:
                self.idle.set()


@asynccontextmanager
async def held_server(status: int = 200) -> AsyncIterator[tuple[HeldServer, str]]:
    held = HeldServer(status=status)
    server = await asyncio.start_server(held.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield held, f"http://127.0.0.1:{port}"
    finally:
        held.release.set()
        server.close()
        await server.wait_closed()
        if held.accepted:
            with anyio.fail_after(HANG_GUARD):
                await held.idle.wait()  # every handler has finished: none is left to cancel


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


# -- shared_client.py -----------------------------------------------------------------------


def counting_clients(monkeypatch: pytest.MonkeyPatch, base_url: str) -> list[httpx.AsyncClient]:
    """Every httpx.AsyncClient made for `base_url` from now on."""
    made: list[httpx.AsyncClient] = []

    class Counted(httpx.AsyncClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if str(kwargs.get("base_url", "")).startswith(base_url):
                made.append(self)

    monkeypatch.setattr(httpx, "AsyncClient", Counted)
    return made


async def test_one_client_for_every_request_closed_at_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = fresh("shared_client.py")
    upstream = Upstream([httpx.Response(200, json={"available": 3})])
    made = counting_clients(monkeypatch, module.UPSTREAM)
    async with running(module.create_app(upstream.transport)) as (client, state):
        for _ in range(5):
            response = await client.get("/stock/lamp")
            assert response.json() == {"sku": "lamp", "available": 3}
        assert made == [state["client"]]
        assert not state["client"].is_closed
    assert state["client"].is_closed
    assert len(upstream.requests) == 5


async def test_every_request_carries_the_clients_timeouts() -> None:
    module = fresh("shared_client.py")
    upstream = Upstream([httpx.Response(200, json={"available": 3})])
    async with running(module.create_app(upstream.transport)) as (client, _):
        await client.get("/stock/lamp")
    sent = upstream.requests[0]
    assert sent.extensions["timeout"] == {"connect": 2.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    assert str(sent.url) == "http://inventory.internal/items/lamp"


def test_httpx_defaults() -> None:
    assert httpx.Timeout(5.0).as_dict() == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    client = httpx.AsyncClient()
    assert client.timeout == httpx.Timeout(5.0)  # the default, not "no timeout"
    pool = client._transport._pool  # the default transport's pool: 100 connections
    assert (pool._max_connections, pool._max_keepalive_connections) == (100, 20)
    assert httpx.Limits() == httpx.Limits(max_connections=None, max_keepalive_connections=None)
    assert issubclass(httpx.PoolTimeout, httpx.TimeoutException)
    assert issubclass(httpx.TimeoutException, httpx.TransportError)
    assert issubclass(httpx.ConnectError, httpx.TransportError)
    assert not issubclass(httpx.HTTPStatusError, httpx.TransportError)


MAPPING = [
    (httpx.Response(200, json={"available": 3}), 200, {"sku": "lamp", "available": 3}),
    (httpx.Response(404), 404, {"detail": "No such item"}),
    (httpx.Response(400), 502, {"detail": "The inventory service failed"}),
    (httpx.Response(500), 502, {"detail": "The inventory service failed"}),
    (httpx.Response(503), 502, {"detail": "The inventory service failed"}),
    (httpx.ConnectError("refused"), 502, {"detail": "The inventory service could not be reached"}),
    (httpx.ReadError("reset"), 502, {"detail": "The inventory service could not be reached"}),
    (httpx.ConnectTimeout("slow"), 504, {"detail": "The inventory service did not answer in time"}),
    (httpx.ReadTimeout("slow"), 504, {"detail": "The inventory service did not answer in time"}),
    (httpx.PoolTimeout("full"), 504, {"detail": "The inventory service did not answer in time"}),
]


@pytest.mark.parametrize(("answer", "status", "body"), MAPPING, ids=lambda v: repr(v)[:30])
async def test_upstream_answers_map_to_ours(answer: Any, status: int, body: Any) -> None:
    module = fresh("shared_client.py")
    async with running(module.create_app(Upstream([answer]).transport)) as (client, _):
        response = await client.get("/stock/lamp")
    assert (response.status_code, response.json()) == (status, body)


async def test_a_mock_transport_takes_sync_and_async_handlers() -> None:
    def sync(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="sync")

    async def not_sync(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="async")

    for handler, text in ((sync, "sync"), (not_sync, "async")):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            assert (await client.get("http://x/")).text == text


async def test_the_pool_caps_concurrent_connections() -> None:
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=5)
    async with held_server() as (held, url), httpx.AsyncClient(base_url=url, limits=limits) as c:
        with anyio.fail_after(HANG_GUARD):  # a hang guard only: nothing here is timed
            async with anyio.create_task_group() as group:
                for _ in range(15):
                    group.start_soon(c.get, "/")
                await held.at(10).wait()
                assert held.open == 10
                held.release.set()
    assert held.peak == 10  # fifteen requests, never more than ten connections
    assert held.requests == 15


async def test_limits_go_to_the_default_transport_only() -> None:
    limits = httpx.Limits(max_connections=1)
    async with held_server() as (held, url):
        transport = httpx.AsyncHTTPTransport()  # a transport of our own: default limits
        async with httpx.AsyncClient(base_url=url, limits=limits, transport=transport) as c:
            with anyio.fail_after(HANG_GUARD):
                async with anyio.create_task_group() as group:
                    for _ in range(3):
                        group.start_soon(c.get, "/")
                    await held.at(3).wait()
                    held.release.set()
    assert held.peak == 3  # `limits=` was ignored


async def test_a_full_pool_raises_pool_timeout() -> None:
    limits = httpx.Limits(max_connections=1)
    async with held_server() as (held, url), httpx.AsyncClient(base_url=url, limits=limits) as c:
        with anyio.fail_after(HANG_GUARD):
            async with anyio.create_task_group() as group:
                group.start_soon(c.get, "/")
                await held.at(1).wait()
                with pytest.raises(httpx.PoolTimeout):
                    await c.get("/", timeout=httpx.Timeout(5.0, pool=0.0))  # no wait at all
                held.release.set()


# -- retries.py -----------------------------------------------------------------------------


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def retrying(script: list[Any], rand: float = 0.5) -> tuple[httpx.AsyncClient, Upstream, Sleeps]:
    module = fresh("retries.py")
    upstream, sleeps = Upstream(script), Sleeps()
    transport = module.RetryTransport(upstream.transport, sleep=sleeps, rand=lambda: rand)
    return httpx.AsyncClient(transport=transport, base_url="http://up"), upstream, sleeps


ATTEMPTS = [
    ("GET", [503], 3, 503),
    ("GET", [502, 504, 200], 3, 200),
    ("GET", [503, 200], 2, 200),
    ("HEAD", [503], 3, 503),
    ("OPTIONS", [503], 3, 503),
    ("PUT", [503], 3, 503),
    ("DELETE", [503], 3, 503),
    ("POST", [503], 1, 503),
    ("PATCH", [503], 1, 503),
    ("GET", [500], 1, 500),
    ("GET", [501], 1, 501),
    ("GET", [404], 1, 404),
    ("GET", [409], 1, 409),
    ("GET", [429], 1, 429),  # no Retry-After: not retried
    ("GET", [200], 1, 200),
]


@pytest.mark.parametrize(("method", "script", "calls", "status"), ATTEMPTS)
async def test_attempts_per_method_and_status(
    method: str, script: list[int], calls: int, status: int
) -> None:
    client, upstream, sleeps = retrying(script)
    async with client:
        response = await client.request(method, "/items/1")
    assert response.status_code == status
    assert len(upstream.requests) == calls
    assert len(sleeps.delays) == calls - 1  # no sleep after the last attempt


@pytest.mark.parametrize(
    ("method", "calls"), [("GET", 3), ("PUT", 3), ("DELETE", 3), ("POST", 1), ("PATCH", 1)]
)
@pytest.mark.parametrize(
    "error", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError]
)
async def test_transport_errors_are_retried_then_raised_as_they_are(
    method: str, calls: int, error: type[Exception]
) -> None:
    client, upstream, _ = retrying([error("boom")])
    async with client:
        with pytest.raises(error):
            await client.request(method, "/items/1")
    assert len(upstream.requests) == calls


async def test_full_jitter_exponential_delays() -> None:
    module = fresh("retries.py")
    assert [module.backoff(n, lambda: 1.0) for n in range(1, 8)] == [
        0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0  # doubling, capped at MAX_DELAY
    ]  # fmt: skip
    assert [module.backoff(n, lambda: 0.0) for n in range(1, 4)] == [0.0, 0.0, 0.0]
    client, _, sleeps = retrying([503], rand=0.5)
    async with client:
        await client.get("/")
    assert sleeps.delays == [0.1, 0.2]


@pytest.mark.parametrize(
    ("status", "retry_after", "delays", "calls"),
    [
        (503, "3", [3.0, 3.0], 3),
        (429, "3", [3.0, 3.0], 3),
        (503, "5", [5.0, 5.0], 3),  # exactly MAX_DELAY: still waited for
        (503, "6", [], 1),  # longer than MAX_DELAY: answered at once
        (429, "6", [], 1),
        (503, "0", [0.0, 0.0], 3),
        (503, "Wed, 21 Oct 2015 07:28:00 GMT", [0.1, 0.2], 3),  # a date: ignored, backoff
        (503, "-1", [0.1, 0.2], 3),
        (502, "3", [0.1, 0.2], 3),  # Retry-After means nothing on a 502
    ],
)
async def test_retry_after_replaces_the_backoff(
    status: int, retry_after: str, delays: list[float], calls: int
) -> None:
    client, upstream, sleeps = retrying(
        [httpx.Response(status, headers={"Retry-After": retry_after})]
    )
    async with client:
        response = await client.get("/")
    assert response.status_code == status
    assert sleeps.delays == delays
    assert len(upstream.requests) == calls


async def test_a_retried_put_sends_its_body_each_time() -> None:
    client, upstream, _ = retrying([503, 503, 200])
    async with client:
        response = await client.put("/items/1", json={"name": "lamp"})
    assert response.status_code == 200
    assert upstream.bodies == [b'{"name":"lamp"}'] * 3


async def test_httpx_retries_only_failed_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def no_sleep(self: Any, seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(httpcore.AnyIOBackend, "sleep", no_sleep)
    transport = httpx.AsyncHTTPTransport(retries=3)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{closed_port()}/")
    assert slept == [0.0, 0.5, 1.0]  # three retries of the connect, no jitter
    async with held_server(status=503) as (held, url):
        held.release.set()
        async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(retries=3)) as client:
            assert (await client.get(url)).status_code == 503
        assert held.requests == 1  # an answer, even a 503, is never retried


# -- breaker.py: the transition table -------------------------------------------------------


class Down(httpx.ConnectError):
    def __init__(self) -> None:
        super().__init__("down")


@dataclass
class Calls:
    """An upstream call that fails or succeeds as told, and counts how often it ran."""

    count: int = 0

    async def ok(self) -> str:
        self.count += 1
        return "ok"

    async def fail(self) -> str:
        self.count += 1
        raise Down()

    async def bug(self) -> str:
        self.count += 1
        raise ValueError("a bug of ours, not the upstream's")


def breaker(clock: Clock, module: ModuleType | None = None) -> Any:
    """A breaker (threshold 3, reset after 30 s) from `module`, or a fresh breaker.py."""
    module = module or fresh("breaker.py")
    return module, module.CircuitBreaker(failure_threshold=3, reset_timeout=30.0, clock=clock)


async def attempt(cb: Any, fn: Callable[[], Awaitable[str]]) -> str:
    """`cb.call(fn)`: what it returned, or the name of what it raised."""
    try:
        return await cb.call(fn)
    except Exception as exc:
        return type(exc).__name__


async def test_the_transition_table() -> None:
    clock = Clock()
    _, cb = breaker(clock)
    calls = Calls()

    async def step(fn: Callable[[], Awaitable[str]]) -> tuple[str, str, int]:
        before = calls.count
        outcome = await attempt(cb, fn)
        return outcome, cb.state, calls.count - before

    # state closed: failures count, a success resets the count
    assert await step(calls.fail) == ("Down", "closed", 1)
    assert await step(calls.fail) == ("Down", "closed", 1)
    assert await step(calls.ok) == ("ok", "closed", 1)
    assert await step(calls.fail) == ("Down", "closed", 1)
    assert await step(calls.fail) == ("Down", "closed", 1)  # threshold - 1: still closed
    assert await step(calls.fail) == ("Down", "open", 1)  # threshold: open, at NOW
    # state open: nothing reaches the upstream until reset_timeout has passed
    clock.now = NOW + 29.999
    assert await step(calls.ok) == ("CircuitOpenError", "open", 0)
    clock.now = NOW + 30.0
    assert cb.state == "half_open"  # read with the clock: no call needed
    assert await step(calls.fail) == ("Down", "open", 1)  # the trial fails: open from now
    clock.now = NOW + 59.999
    assert await step(calls.ok) == ("CircuitOpenError", "open", 0)
    clock.now = NOW + 60.0
    assert await step(calls.ok) == ("ok", "closed", 1)  # the trial succeeds: closed
    assert await step(calls.fail) == ("Down", "closed", 1)  # with a fresh count


async def test_an_open_circuit_says_how_long_to_wait() -> None:
    clock = Clock()
    module, cb = breaker(clock)
    for _ in range(3):
        await attempt(cb, Calls().fail)
    clock.now = NOW + 12.5
    with pytest.raises(module.CircuitOpenError) as refused:
        await cb.call(Calls().ok)
    assert refused.value.retry_after == 17.5


async def test_half_open_lets_exactly_one_trial_through() -> None:
    clock = Clock()
    module, cb = breaker(clock)
    for _ in range(3):
        await attempt(cb, Calls().fail)
    clock.now = NOW + 30.0
    entered, release, ran = asyncio.Event(), asyncio.Event(), []

    async def slow_trial() -> str:
        ran.append("trial")
        entered.set()
        await release.wait()
        return "ok"

    async def other() -> str:
        ran.append("other")
        return "ok"

    with anyio.fail_after(HANG_GUARD):
        trial = asyncio.ensure_future(cb.call(slow_trial))
        await entered.wait()
        assert cb.state == "half_open"
        for _ in range(5):
            with pytest.raises(module.CircuitOpenError):
                await cb.call(other)
        release.set()
        assert await trial == "ok"
    assert ran == ["trial"]
    assert cb.state == "closed"


async def test_other_exceptions_pass_through_and_do_not_count() -> None:
    clock = Clock()
    _, cb = breaker(clock)
    calls = Calls()
    for _ in range(10):
        assert await attempt(cb, calls.bug) == "ValueError"
    assert cb.state == "closed"
    for _ in range(3):
        await attempt(cb, calls.fail)
    clock.now = NOW + 30.0
    assert await attempt(cb, calls.bug) == "ValueError"  # the trial ends ...
    assert cb.state == "half_open"  # ... without a verdict: the next caller is the trial
    assert await attempt(cb, calls.ok) == "ok"
    assert cb.state == "closed"


async def test_the_quotes_app_answers_503_with_retry_after() -> None:
    clock = Clock()
    quotes = fresh("quotes.py")
    _, cb = breaker(clock, sys.modules["breaker"])  # the module quotes.py imported
    upstream = Upstream([500])
    app = quotes.create_app(upstream.transport, cb)
    async with running(app) as (client, _):
        statuses = [(await client.get("/quote/ACME")).status_code for _ in range(3)]
        assert statuses == [502, 502, 502]
        clock.now = NOW + 0.5
        refused = await client.get("/quote/ACME")
        clock.now = NOW + 29.5
        last_moment = await client.get("/quote/ACME")
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "30")  # 29.5 → 30
    assert last_moment.headers["retry-after"] == "1"
    assert refused.json() == {"detail": "Quotes are unavailable"}
    assert len(upstream.requests) == 3


# -- client_address.py ----------------------------------------------------------------------

ADDRESSES = [
    # peer, X-Forwarded-For, the client address
    ("203.0.113.9", None, "203.0.113.9"),
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # an untrusted peer: header ignored
    ("10.0.0.2", None, "10.0.0.2"),
    ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
    ("10.0.0.2", "1.2.3.4, 198.51.100.1", "198.51.100.1"),  # 1.2.3.4 was written by the client
    ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),  # two proxies of ours
    ("10.0.0.2", "198.51.100.1,10.0.0.3 , 10.1.2.3", "198.51.100.1"),
    ("10.0.0.2", "10.0.0.7, 10.0.0.3", "10.0.0.7"),  # all ours: the left-most
    ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
    ("127.0.0.2", "198.51.100.1", "127.0.0.2"),  # only 127.0.0.1 is trusted
    ("10.0.0.2", "garbage, 10.0.0.3", "garbage"),
]


@pytest.mark.parametrize(("peer", "forwarded", "expected"), ADDRESSES)
def test_the_client_address_behind_trusted_proxies(
    peer: str, forwarded: str | None, expected: str
) -> None:
    module = fresh("client_address.py")
    assert module.client_address(peer, forwarded) == expected


@pytest.mark.parametrize(("peer", "forwarded", "expected"), ADDRESSES[:-1])
async def test_uvicorn_picks_the_same_address(
    peer: str, forwarded: str | None, expected: str
) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["client"][0])

    middleware = ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.0/8,127.0.0.1")
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    await middleware({"type": "http", "client": (peer, 5000), "headers": headers}, None, None)  # type: ignore[arg-type]
    assert seen == [expected]


def test_uvicorn_trusts_only_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    config = uvicorn.Config("app:app")
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == "127.0.0.1,::1"
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8")
    assert uvicorn.Config("app:app").forwarded_allow_ips == "10.0.0.0/8"


# -- token_bucket.py and naive_bucket.py ----------------------------------------------------


@pytest.fixture
async def two_redis(redis_url: str | None) -> AsyncIterator[tuple[Redis, Redis]]:
    """Two clients of one Redis, as two app instances would hold: fakeredis or a real one."""
    if redis_url is None:
        server = FakeServer()
        one, two = (FakeAsyncRedis(server=server, decode_responses=True) for _ in range(2))
    else:
        one, two = (Redis.from_url(redis_url, decode_responses=True) for _ in range(2))
    yield one, two
    await one.aclose()
    await two.aclose()


@asynccontextmanager
async def limited(
    redis: Redis, clock: Clock
) -> AsyncIterator[Callable[..., Awaitable[httpx.Response]]]:
    """A token-bucket app; `get(peer=..., **headers)` sends GET /search from that peer."""
    module = fresh("token_bucket.py")
    app = module.create_app(redis)
    app.dependency_overrides[module.clock] = clock
    async with LifespanManager(app) as manager:

        async def get(peer: str = "203.0.113.9", **headers: str) -> httpx.Response:
            transport = httpx.ASGITransport(app=manager.app, client=(peer, 5000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.get("/search", params={"q": "lamp"}, headers=headers)

        yield get


async def test_capacity_requests_then_429(two_redis: tuple[Redis, Redis]) -> None:
    clock = Clock()
    async with limited(two_redis[0], clock) as get:
        answers = [await get() for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [a.headers["ratelimit"] for a in answers] == [
        f'"default";r={left};t=2' for left in (4, 3, 2, 1, 0, 0)
    ]
    assert all(a.headers["ratelimit-policy"] == '"default";q=5;w=10' for a in answers)
    refused = answers[-1]
    assert refused.headers["retry-after"] == "2"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == {"type": "about:blank", "title": "Too Many Requests", "status": 429}
    assert "retry-after" not in answers[0].headers


@pytest.mark.parametrize(
    ("later", "status", "retry_after", "ratelimit"),
    [
        (0.8, 429, "2", '"default";r=0;t=2'),  # 0.4 tokens: 1.2 s to go, rounded up
        (1.0, 429, "1", '"default";r=0;t=1'),  # 0.5 tokens: exactly 1 s to go
        (1.5, 429, "1", '"default";r=0;t=1'),  # 0.75 tokens: 0.5 s, rounded up
        (1.999, 429, "1", '"default";r=0;t=1'),
        (2.0, 200, None, '"default";r=0;t=2'),  # one whole token: spent at once
        (3.0, 200, None, '"default";r=0;t=1'),  # 1.5 tokens, one spent: 0.5 left
        (10.0, 200, None, '"default";r=4;t=2'),  # full again
        (60.0, 200, None, '"default";r=4;t=2'),  # never more than CAPACITY
    ],
)
async def test_refill_and_retry_after_at_exact_instants(
    two_redis: tuple[Redis, Redis],
    later: float,
    status: int,
    retry_after: str | None,
    ratelimit: str,
) -> None:
    clock = Clock()
    async with limited(two_redis[0], clock) as get:
        for _ in range(5):
            await get()
        clock.now = NOW + later
        response = await get()
    assert response.status_code == status
    assert response.headers.get("retry-after") == retry_after
    assert response.headers["ratelimit"] == ratelimit


async def test_headers_of_a_dependency_skip_a_returned_response(
    two_redis: tuple[Redis, Redis],
) -> None:
    module = fresh("token_bucket.py")
    app = module.create_app(two_redis[0])
    app.dependency_overrides[module.clock] = Clock()

    @app.get("/raw")
    async def raw() -> JSONResponse:
        return JSONResponse({"raw": True})

    async with running(app) as (client, _):
        built = await client.get("/search", params={"q": "lamp"})
        returned = await client.get("/raw")
    assert built.headers["ratelimit"] == '"default";r=4;t=2'
    assert returned.status_code == 200
    assert "ratelimit" not in returned.headers  # the bucket was used, the headers were lost


async def test_a_refused_request_takes_nothing(two_redis: tuple[Redis, Redis]) -> None:
    clock = Clock()
    async with limited(two_redis[0], clock) as get:
        for _ in range(5):
            await get()
        for step in (0.5, 1.0, 1.5):
            clock.now = NOW + step
            assert (await get()).status_code == 429
        clock.now = NOW + 2.0
        assert (await get()).status_code == 200


async def test_keys_by_user_or_by_address(two_redis: tuple[Redis, Redis]) -> None:
    clock = Clock()
    redis = two_redis[0]
    async with limited(redis, clock) as get:
        for _ in range(5):
            await get(Authorization="Bearer token-alice")
        assert (await get(Authorization="Bearer token-alice")).status_code == 429
        assert (await get(peer="203.0.113.9", Authorization="Bearer token-bob")).status_code == 200
        assert (await get(Authorization="Bearer forged")).status_code == 200  # keyed by address
        spoofed = {"X-Forwarded-For": "198.51.100.77"}
        for _ in range(4):
            await get(peer="203.0.113.9", **spoofed)  # untrusted peer: still its own bucket
        assert (await get(peer="203.0.113.9", **spoofed)).status_code == 429
        assert (await get(peer="10.0.0.2", **spoofed)).status_code == 200  # through our proxy
    keys = sorted(await redis.keys("ratelimit:*"))
    assert keys == [
        "ratelimit:v1:ip:198.51.100.77",
        "ratelimit:v1:ip:203.0.113.9",
        "ratelimit:v1:user:alice",
        "ratelimit:v1:user:bob",
    ]
    for key in keys:
        assert 0 < await redis.ttl(key) <= 10  # FULL_AFTER: no key lives for ever


async def test_two_instances_share_one_limit(two_redis: tuple[Redis, Redis]) -> None:
    clock = Clock()
    one, two = two_redis
    async with limited(one, clock) as first, limited(two, clock) as second:
        statuses = [(await (first if i % 2 else second)()).status_code for i in range(6)]
    assert statuses == [200] * 5 + [429]


def hold_until_all_read(monkeypatch: pytest.MonkeyPatch, target: Any, readers: int) -> None:
    """Each `hmget` on `target` waits until `readers` of them have read: the worst interleaving."""
    original, everyone = target.hmget, asyncio.Event()
    count = 0

    def hmget(*args: Any) -> Awaitable[Any]:  # a client's or, on the class, a pipeline's
        async def read() -> Any:
            nonlocal count
            value = await original(*args)
            count += 1
            if count == readers:
                everyone.set()
            await everyone.wait()
            return value

        return read()

    monkeypatch.setattr(target, "hmget", hmget)


async def test_read_then_write_lets_too_many_through(
    two_redis: tuple[Redis, Redis], monkeypatch: pytest.MonkeyPatch
) -> None:
    naive = fresh("naive_bucket.py")
    redis = two_redis[0]
    hold_until_all_read(monkeypatch, redis, 20)
    with anyio.fail_after(HANG_GUARD):
        answers = await asyncio.gather(*(naive.take_naively(redis, "k", NOW) for _ in range(20)))
    assert sum(allowed for allowed, _ in answers) == 20  # a bucket of 5 let 20 through


async def test_watch_multi_lets_exactly_capacity_through(
    two_redis: tuple[Redis, Redis], monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = fresh("token_bucket.py")
    one, two = two_redis
    hold_until_all_read(monkeypatch, Pipeline, 20)
    with anyio.fail_after(HANG_GUARD):
        answers = await asyncio.gather(
            *(bucket.take(one if i % 2 else two, "k", NOW) for i in range(20))
        )
    assert sum(allowed for allowed, _ in answers) == 5


def test_the_policy_describes_the_bucket() -> None:
    bucket = fresh("token_bucket.py")
    assert bucket.FULL_AFTER == 10
    assert bucket.CAPACITY / bucket.FULL_AFTER == bucket.REFILL_PER_SECOND
    assert math.ceil((1 - 0.4) / bucket.REFILL_PER_SECOND) == 2


# -- fallback.py ----------------------------------------------------------------------------


def price(cents: int) -> httpx.Response:
    return httpx.Response(200, json={"sku": "lamp", "cents": cents})


@asynccontextmanager
async def pricing(
    redis: Redis, script: list[Any]
) -> AsyncIterator[tuple[httpx.AsyncClient, Upstream, Clock, Any]]:
    clock = Clock()
    fallback = fresh("fallback.py")
    _, cb = breaker(clock, sys.modules["breaker"])
    upstream = Upstream(script)
    app = fallback.create_app(upstream.transport, redis, cb, clock)
    async with running(app) as (client, _):
        yield client, upstream, clock, cb


async def test_fresh_answers_are_cached_for_price_ttl(two_redis: tuple[Redis, Redis]) -> None:
    redis = two_redis[0]
    async with pricing(redis, [price(3900)]) as (client, *_):
        response = await client.get("/price/lamp")
    assert response.json() == {"sku": "lamp", "cents": 3900}
    assert "x-degraded" not in response.headers
    assert "age" not in response.headers
    assert await redis.ttl("price:v1:lamp") == 86_400


async def test_a_failing_upstream_is_answered_from_cache(two_redis: tuple[Redis, Redis]) -> None:
    redis = two_redis[0]
    script = [price(3900), 503, httpx.ConnectError("down"), 500, price(4200)]
    async with pricing(redis, script) as (client, upstream, clock, cb):
        fresh_answer = await client.get("/price/lamp")
        degraded = []
        for seconds in (5.0, 6.5, 7.0):
            clock.now = NOW + seconds
            degraded.append(await client.get("/price/lamp"))
        assert cb.state == "open"  # three failures
        clock.now = NOW + 20.0
        while_open = await client.get("/price/lamp")
        calls_while_open = len(upstream.requests)
        clock.now = NOW + 37.0
        recovered = await client.get("/price/lamp")
    assert fresh_answer.headers.get("x-degraded") is None
    for response in (*degraded, while_open):
        assert response.status_code == 200
        assert response.json() == {"sku": "lamp", "cents": 3900}
        assert response.headers["x-degraded"] == "1"
    assert [r.headers["age"] for r in (*degraded, while_open)] == ["5", "6", "7", "20"]
    assert calls_while_open == 4  # open: the upstream was not called
    assert recovered.json() == {"sku": "lamp", "cents": 4200}
    assert "x-degraded" not in recovered.headers


async def test_nothing_cached_is_a_503_with_retry_after(two_redis: tuple[Redis, Redis]) -> None:
    async with pricing(two_redis[0], [503]) as (client, _, clock, _):
        answers = [await client.get("/price/lamp") for _ in range(3)]
        clock.now = NOW + 10.2
        while_open = await client.get("/price/lamp")
    assert [(a.status_code, a.headers["retry-after"]) for a in answers] == [(503, "1")] * 3
    assert (while_open.status_code, while_open.headers["retry-after"]) == (503, "20")
    assert while_open.json() == {"detail": "No price available"}
    assert await two_redis[0].exists("price:v1:lamp") == 0


async def test_a_404_is_an_answer_not_a_failure(two_redis: tuple[Redis, Redis]) -> None:
    async with pricing(two_redis[0], [404]) as (client, _, _, cb):
        statuses = [(await client.get("/price/none")).status_code for _ in range(5)]
    assert statuses == [404] * 5
    assert cb.state == "closed"
    assert await two_redis[0].exists("price:v1:none") == 0


async def test_redis_down_still_serves_fresh_answers() -> None:
    server = FakeServer()
    server.connected = False
    async with pricing(FakeAsyncRedis(server=server), [price(3900), 503]) as (client, *_):
        fresh_answer = await client.get("/price/lamp")
        failed = await client.get("/price/lamp")
    assert fresh_answer.status_code == 200
    assert failed.status_code == 503  # nothing could be cached
