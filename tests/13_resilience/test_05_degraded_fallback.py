"""Hidden suite for 13_resilience/05_degraded_fallback: the last good price while the service fails.

Every check starts the app on an empty Redis (the `redis_url` fixture: the embedded fakeredis,
or a real server's database), with a scripted pricing service (an `httpx.MockTransport` whose
async handler counts the requests that reach it) and a clock the check moves by hand. Redis is
read through the app's own client; a TTL is read with `pttl` against Redis's own clock, never
waited for. Redis goes down in two ways: `REDIS_URL` names a Redis that refuses every
connection, or `outage(redis)` makes the app's own client fail to connect until the block ends.
A request held inside the service (an event it waits for) shows what the app answers while the
breaker's trial runs: no sleeps anywhere.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from workbook.services import UNREACHABLE_REDIS_URL
from workbook.testing import (
    HANG_GUARD,
    Failure,
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    running,
)

START = 1_700_000_000.0  # what the test clock reads when a check begins (seconds since 1970)
CACHE_TTL = 24 * 60 * 60
RESET = 30.0
EPSILON = 2**-10  # a power of two: START + RESET - EPSILON is exact in floating point
REDIS_TIMEOUT = 0.25
SKU = "A-1"
KEY = "price:v1:A-1"
PRICE = {"sku": SKU, "price_cents": 1250}
UNAVAILABLE = {"detail": "Prices are unavailable"}
FAILURES = ["500", "503", "connect", "timeout"]

STORE = (
    "Does every fresh price go to Redis? redis.set(price_key(sku), ..., ex=CACHE_TTL) with "
    "clock() beside the price, once the breaker's call returned."
)
FRESH_FIRST = (
    "Does the app ask the service (through the breaker) before it looks at the cache? The "
    "cache is for when the service fails: while it answers, its price is the one to serve."
)
FALLBACK = (
    "When breaker.call raises one of FAILURE_TYPES or CircuitOpenError, does the app read "
    "price_key(sku) from Redis and answer 200 with that price and X-Degraded: 1?"
)
AGE = (
    "Is Age the whole seconds since the price was cached, math.floor(clock() - cached_at), "
    "and 0 when that is negative? Keep clock() beside the price when you store it."
)
NOT_STORED = (
    "Does a degraded answer write to Redis? It must not: storing the old price again resets "
    "its TTL, and storing it with clock() now makes its Age lie."
)
DOWN = (
    'With nothing cached, does the app answer 503 {"detail": "Prices are unavailable"} '
    "with Retry-After: the refusal's retry_after rounded up (math.ceil, at least 1), or 1 "
    "when the call itself failed?"
)
UNKNOWN = (
    "Is UnknownSku answered with 404 before any fallback? The service answered: a SKU it "
    "does not know is not an outage, whatever the cache holds."
)
THROUGH_THE_BREAKER = (
    "Does every request go through breaker.call(fetch_price, client, sku)? While the "
    "breaker is open, no request may reach the pricing service."
)
REDIS_DOWN = (
    "Is every Redis command wrapped so that a redis.exceptions.RedisError counts as nothing "
    "cached (a read) or is skipped (a store)? A cache that is down must not turn into a 500."
)
BREAKER = "The breaker is given: is it used as it is, with FAILURE_THRESHOLD and RESET_TIMEOUT?"
TIMEOUTS = (
    "redis_from_env is given: does it still pass socket_connect_timeout=REDIS_TIMEOUT and "
    "socket_timeout=REDIS_TIMEOUT to Redis.from_url?"
)


@pytest.fixture(autouse=True)
def services(redis_url: str | None) -> None:
    """Each check gets an empty Redis, named by the environment."""


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's REDIS_URL names a Redis that refuses every connection at once."""
    monkeypatch.setenv("REDIS_URL", UNREACHABLE_REDIS_URL)


class Clock:
    """A clock that moves only when a check moves it."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Pricing:
    """The scripted pricing service: answers with `outcome`, counting the requests that reach it.

    `hold`, once set to an event, holds the first request that comes until the event is
    set, and `entered` tells it has come.
    """

    def __init__(self) -> None:
        self.outcome = "ok"
        self.price_cents = PRICE["price_cents"]
        self.calls = 0
        self.paths: list[str] = []
        self.hold: anyio.Event | None = None
        self.entered = anyio.Event()

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        self.paths.append(request.url.path)
        if self.hold is not None and not self.entered.is_set():  # only the first one waits
            self.entered.set()
            await self.hold.wait()
        outcome = self.outcome
        if outcome == "ok":
            sku = request.url.path.split("/")[-1]
            return httpx.Response(200, json={"sku": sku, "price_cents": self.price_cents})
        if outcome == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if outcome == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(int(outcome), json={"detail": f"status {outcome}"})


class Shop:
    """The app running on the scripted service, its lifespan state and its clock."""

    def __init__(
        self, client: httpx.AsyncClient, state: dict[str, Any], pricing: Pricing, clock: Clock
    ) -> None:
        self.client = client
        self.redis = state.get("redis")
        self.pricing = pricing
        self.clock = clock

    async def get(self, outcome: str = "ok", sku: str = SKU) -> httpx.Response:
        self.pricing.outcome = outcome
        with anyio.fail_after(HANG_GUARD):
            return await self.client.get(f"/price/{sku}")

    async def reaches(self, outcome: str, expected: bool, help: str) -> httpx.Response:
        """One request, which reaches the service or not, as `expected` says."""
        before = self.pricing.calls
        response = await self.get(outcome)
        expect_equal(
            "requests reaching the pricing service",
            int(expected),
            self.pricing.calls - before,
            help=help,
        )
        return response


@asynccontextmanager
async def shop(exercise: ModuleType, start: float = START) -> AsyncIterator[Shop]:
    """The app with its lifespan running; what it raises becomes the 500 a client gets."""
    pricing = Pricing()
    clock = Clock(start)
    app = exercise.create_app(transport=httpx.MockTransport(pricing.handler), clock=clock)
    async with running(app, raise_app_exceptions=False) as (client, state):
        yield Shop(client, state, pricing, clock)


@contextmanager
def outage(redis: Any) -> Iterator[None]:
    """Every new command of `redis` fails to connect while the block runs, then works again."""
    cls = redis.connection_pool.connection_class
    own = cls.__dict__.get("connect")

    async def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RedisConnectionError("Error 111 connecting to Redis. Connection refused.")

    cls.connect = refuse
    try:
        yield
    finally:
        if own is None:
            del cls.connect
        else:
            cls.connect = own


async def redis_ms(redis: Any) -> int:
    """The Redis server's own clock, in milliseconds."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


def expect_fresh(response: httpx.Response, price: dict[str, Any] = PRICE, help: str = "") -> None:
    expect_status(response, 200, help=help or None)
    expect_json(response, price, help=help or None)
    expect_header(response, "x-degraded", None, help=help or FRESH_FIRST)
    expect_header(response, "age", None, help=help or FRESH_FIRST)


def expect_degraded(
    response: httpx.Response, age: str, price: dict[str, Any] = PRICE, help: str = FALLBACK
) -> None:
    expect_status(response, 200, help=help)
    expect_json(response, price, help=help)
    expect_header(response, "x-degraded", "1", help=help)
    expect_header(response, "age", age, help=AGE)


def expect_down(response: httpx.Response, retry_after: str, help: str = DOWN) -> None:
    expect_status(response, 503, help=help)
    expect_json(response, UNAVAILABLE, help=help)
    expect_header(response, "retry-after", retry_after, help=help)


async def open_breaker(shop: Shop, cached: bool = True) -> None:
    """Three failures in a row at the current time: the breaker is open from now on."""
    for _ in range(3):
        response = await shop.reaches("503", True, help=THROUGH_THE_BREAKER)
        expect_status(response, 200 if cached else 503, help=FALLBACK if cached else DOWN)


# -- fresh answers ----------------------------------------------------------------------


@pytest.mark.stub_may_pass("fresh answers are given")
async def test_fresh_price(exercise):
    """while the service answers, its price is served, with neither X-Degraded nor Age"""
    async with shop(exercise) as app:
        response = await app.get()
    expect_fresh(response)
    expect_equal("paths requested from the pricing service", ["/prices/A-1"], app.pricing.paths)


async def test_fresh_price_is_cached(exercise):
    """a fresh price is stored at price:v1:{sku} for exactly CACHE_TTL seconds"""
    async with shop(exercise) as app:
        since = await redis_ms(app.redis)
        expect_fresh(await app.get())
        left = await app.redis.pttl(KEY)
        passed = await redis_ms(app.redis) - since
    expect(left != -2, f"expected an entry at {KEY}, found none", help=STORE)
    expect(left != -1, f"expected the entry at {KEY} to expire, but it has no TTL", help=STORE)
    expect(
        left <= CACHE_TTL * 1000 <= left + passed + 1,
        f"expected the entry to expire {CACHE_TTL} s after it was stored, not {left} ms",
        help=STORE,
    )


async def test_fresh_beats_the_cache(exercise):
    """while the service answers, its newest price wins over the cached one"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        app.pricing.price_cents = 1300
        app.clock.now += 50.0
        newest = {**PRICE, "price_cents": 1300}
        expect_fresh(await app.reaches("ok", True, help=FRESH_FIRST), newest, help=FRESH_FIRST)
        app.clock.now += 10.0
        response = await app.get("503")
    expect_degraded(response, "10", newest, help=STORE)


@pytest.mark.stub_may_pass("fresh answers and the 404 are given")
async def test_unknown_sku(exercise):
    """a SKU the service does not know answers 404"""
    async with shop(exercise) as app:
        response = await app.get("404", "Z-9")
    expect_status(response, 404, help=UNKNOWN)
    expect_json(response, {"detail": "Unknown SKU"}, help=UNKNOWN)


async def test_unknown_sku_even_when_cached(exercise):
    """a 404 from the service wins over a cached price, and leaves the entry as it was"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        entry = await app.redis.get(KEY)
        app.clock.now += 5.0
        response = await app.get("404")
        after = await app.redis.get(KEY)
        app.clock.now += 5.0
        degraded = await app.get("503")
    expect_status(response, 404, help=UNKNOWN)
    expect_json(response, {"detail": "Unknown SKU"}, help=UNKNOWN)
    expect_equal(f"the entry at {KEY} after a 404", entry, after, help=UNKNOWN)
    expect_degraded(degraded, "10")


# -- degraded answers -------------------------------------------------------------------


@pytest.mark.parametrize("outcome", FAILURES)
async def test_degraded_when_the_service_fails(exercise, outcome):
    """when the service fails, the cached price is served with X-Degraded: 1 and its Age"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        app.clock.now += 100.25
        response = await app.get(outcome)
    expect_degraded(response, "100")


@pytest.mark.parametrize(
    ("elapsed", "age"),
    [(0.0, "0"), (59.75, "59"), (60.0, "60"), (-0.5, "0"), (-2.5, "0")],
    ids=["at once", "59.75 s", "60 s", "clock 0.5 s behind", "clock 2.5 s behind"],
)
async def test_age(exercise, elapsed, age):
    """Age is the whole seconds since the price was cached, and never negative"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        app.clock.now += elapsed
        response = await app.get("503")
    expect_degraded(response, age)


async def test_degraded_answers_are_not_stored(exercise):
    """a degraded answer writes nothing: the entry, its TTL and its Age stay as they were"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        entry = await app.redis.get(KEY)
        await app.redis.expire(KEY, 100)  # shortened by hand: a rewrite would show
        app.clock.now += 100.0
        first = await app.get("503")
        app.clock.now += 100.0
        second = await app.get("503")
        after = await app.redis.get(KEY)
        left = await app.redis.pttl(KEY)
    expect_degraded(first, "100", help=NOT_STORED)
    expect_degraded(second, "200", help=NOT_STORED)
    expect_equal(f"the entry at {KEY} after two degraded answers", entry, after, help=NOT_STORED)
    expect(
        0 < left <= 100_000,
        f"expected the entry's TTL to stay under the 100 s it was cut to, not {left} ms",
        help=NOT_STORED,
    )


async def test_each_sku_its_own_price(exercise):
    """each SKU falls back to its own cached price"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        app.pricing.price_cents = 990
        other = {"sku": "B-2", "price_cents": 990}
        expect_fresh(await app.get("ok", "B-2"), other)
        app.clock.now += 7.0
        first = await app.get("503")
        second = await app.get("503", "B-2")
        missing = await app.get("503", "C-3")
    expect_degraded(first, "7")
    expect_degraded(second, "7", other)
    expect_down(missing, "1")


# -- nothing cached ---------------------------------------------------------------------


@pytest.mark.parametrize("outcome", FAILURES)
async def test_nothing_cached(exercise, outcome):
    """with nothing cached, a failure answers 503 with Retry-After: 1, and stores nothing"""
    async with shop(exercise) as app:
        response = await app.get(outcome)
        stored = await app.redis.exists(KEY)
    expect_down(response, "1")
    expect_equal(f"entries at {KEY}", 0, stored, help=NOT_STORED)


@pytest.mark.parametrize(
    ("elapsed", "header"),
    [(0.0, "30"), (12.25, "18"), (29.0, "1"), (RESET - EPSILON, "1")],
    ids=["at once", "after 12.25 s", "after 29 s", "a moment before 30 s"],
)
async def test_refused_with_nothing_cached(exercise, elapsed, header):
    """with the breaker open and nothing cached: 503, Retry-After the time left, rounded up"""
    async with shop(exercise) as app:
        await open_breaker(app, cached=False)
        app.clock.now += elapsed
        response = await app.reaches("ok", False, help=THROUGH_THE_BREAKER)
    expect_down(response, header)


# -- the breaker, seen through HTTP -----------------------------------------------------


async def test_open_breaker_serves_the_cache(exercise):
    """after 3 failures in a row the service gets no request, and the cache answers"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        for _ in range(2):
            await app.reaches("503", True, help=BREAKER)
        app.clock.now += 1.0
        await app.reaches("503", True, help=BREAKER)
        for step in range(3):
            app.clock.now += 9.0
            response = await app.reaches("ok", False, help=THROUGH_THE_BREAKER)
            expect_degraded(response, str(10 + 9 * step))


async def test_successes_reset_the_count(exercise):
    """failures open the breaker only when they come 3 in a row"""
    async with shop(exercise) as app:
        for outcome in ["503", "503", "ok", "503", "503", "ok", "503", "503"]:
            await app.reaches(outcome, True, help=BREAKER)
        await app.reaches("503", True, help=BREAKER)
        expect_degraded(await app.reaches("ok", False, help=BREAKER), "0")


async def test_unknown_sku_is_not_a_failure(exercise):
    """404s neither count as failures nor break a run of them"""
    async with shop(exercise) as app:
        for outcome in ["404", "404", "404", "503", "503", "404"]:
            await app.reaches(outcome, True, help=BREAKER)
        await app.reaches("503", True, help=BREAKER)
        expect_down(await app.reaches("ok", False, help=BREAKER), "30")


async def test_trial_after_the_timeout(exercise):
    """30 s after opening, one request tries the service; a fresh answer closes the breaker"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        await open_breaker(app)
        app.clock.now = START + RESET - EPSILON
        expect_degraded(await app.reaches("ok", False, help=BREAKER), "29")
        app.clock.now = START + RESET
        app.pricing.price_cents = 1300
        newest = {**PRICE, "price_cents": 1300}
        expect_fresh(await app.reaches("ok", True, help=BREAKER), newest)
        expect_fresh(await app.reaches("ok", True, help=BREAKER), newest)


async def test_failed_trial_reopens(exercise):
    """a failed trial opens the breaker again for 30 s from its failure"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        await open_breaker(app)
        app.clock.now = START + RESET + 5.0
        expect_degraded(await app.reaches("503", True, help=BREAKER), "35")
        app.clock.now = START + 2 * RESET + 5.0 - EPSILON
        expect_degraded(await app.reaches("ok", False, help=BREAKER), "64")
        app.clock.now = START + 2 * RESET + 5.0
        expect_fresh(await app.reaches("ok", True, help=BREAKER))


async def test_not_a_failure_in_the_trial(exercise):
    """a trial answered 404 leaves the breaker half-open: the next request is the trial"""
    async with shop(exercise) as app:
        await open_breaker(app, cached=False)
        app.clock.now += RESET
        expect_status(await app.reaches("404", True, help=BREAKER), 404, help=UNKNOWN)
        expect_fresh(await app.reaches("ok", True, help=BREAKER))


async def test_second_outage(exercise):
    """after the breaker closed, a second outage opens it and gets its own trial"""
    async with shop(exercise) as app:
        await open_breaker(app, cached=False)
        app.clock.now += RESET
        expect_fresh(await app.reaches("ok", True, help=BREAKER))
        await open_breaker(app)
        app.clock.now += RESET
        expect_fresh(await app.reaches("ok", True, help=BREAKER))


async def test_clock_at_zero(exercise):
    """a breaker that opened when the clock read 0.0 is open all the same"""
    async with shop(exercise, start=0.0) as app:
        await open_breaker(app, cached=False)
        expect_down(await app.reaches("ok", False, help=BREAKER), "30")


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "nothing cached"])
async def test_during_the_trial(exercise, cached):
    """while the trial runs, other requests get the cache (or 503, Retry-After 1) at once"""
    async with shop(exercise) as app:
        if cached:
            expect_fresh(await app.get())
        await open_breaker(app, cached=cached)
        app.clock.now += RESET
        app.pricing.hold = anyio.Event()
        answers: list[httpx.Response] = []

        async def trial() -> None:
            answers.append(await app.get())

        with anyio.fail_after(HANG_GUARD):
            async with anyio.create_task_group() as group:
                group.start_soon(trial)
                try:
                    await app.pricing.entered.wait()
                    before = app.pricing.calls
                    other = await app.get()
                    reached = app.pricing.calls - before
                finally:
                    app.pricing.hold.set()
    expect_equal("requests reaching the service during the trial", 0, reached, help=BREAKER)
    if cached:
        expect_degraded(other, "30")
    else:
        expect_down(other, "1")
    expect_fresh(answers[0])


# -- Redis down -------------------------------------------------------------------------


@pytest.mark.stub_may_pass("the stub never touches Redis")
async def test_fresh_without_redis(exercise, unreachable):
    """with Redis refusing, fresh prices are still served"""
    async with shop(exercise) as app:
        response = await app.get()
    expect_fresh(response, help=REDIS_DOWN)


@pytest.mark.parametrize("outcome", ["503", "connect"])
async def test_down_without_redis(exercise, unreachable, outcome):
    """with Redis refusing and the service failing: 503 with Retry-After, never a 500"""
    async with shop(exercise) as app:
        response = await app.get(outcome)
    expect_down(response, "1", help=REDIS_DOWN)


async def test_redis_goes_down(exercise):
    """when Redis stops answering, fresh prices are served and failures get 503"""
    async with shop(exercise) as app:
        expect_fresh(await app.get())
        with outage(app.redis):
            app.pricing.price_cents = 1300
            expect_fresh(await app.get(), {**PRICE, "price_cents": 1300}, help=REDIS_DOWN)
            failed = await app.get("503")
        app.clock.now += 3.0
        back = await app.get("503")
    expect_down(failed, "1", help=REDIS_DOWN)
    expect_degraded(back, "3")


@pytest.mark.stub_may_pass("redis_from_env is given")
async def test_redis_client_has_timeouts(exercise, unreachable):
    """the Redis client gives up after REDIS_TIMEOUT (0.25 s), to connect and to answer"""
    async with shop(exercise) as app:
        options = app.redis.connection_pool.connection_kwargs
    expect_equal(
        "socket_connect_timeout",
        REDIS_TIMEOUT,
        options.get("socket_connect_timeout"),
        help=TIMEOUTS,
    )
    expect_equal("socket_timeout", REDIS_TIMEOUT, options.get("socket_timeout"), help=TIMEOUTS)


# -- the given parts --------------------------------------------------------------------


@pytest.mark.stub_may_pass("fetch_price is given")
@pytest.mark.parametrize(
    ("status", "raised"),
    [(404, "UnknownSku"), (499, "HTTPStatusError"), (500, "UpstreamError")],
)
async def test_fetch_price_errors(exercise, status, raised):
    """fetch_price raises UnknownSku for 404, UpstreamError from 500 on, and HTTPStatusError else"""
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json={"detail": "x"}))
    async with httpx.AsyncClient(transport=transport, base_url=exercise.UPSTREAM) as client:
        try:
            await exercise.fetch_price(client, SKU)
        except Exception as error:
            expect_equal("the class fetch_price raised", raised, type(error).__name__)
            return
    raise Failure(f"expected fetch_price to raise {raised} for a {status}, but it returned")


@pytest.mark.stub_may_pass("the breaker is given")
@pytest.mark.parametrize(
    ("threshold", "timeout", "valid"),
    [(0, 1.0, False), (1, 0.0, True), (1, -0.5, False)],
    ids=["threshold 0", "threshold 1, timeout 0", "timeout -0.5"],
)
def test_breaker_settings(exercise, threshold, timeout, valid):
    """the given breaker refuses a threshold below 1 or a timeout below 0"""
    try:
        exercise.CircuitBreaker(threshold, timeout)
    except ValueError:
        expect(not valid, f"expected CircuitBreaker({threshold}, {timeout}) to be accepted")
        return
    expect(valid, f"expected CircuitBreaker({threshold}, {timeout}) to raise ValueError")
