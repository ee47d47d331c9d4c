"""Hidden suite for 13_resilience/04_token_bucket: one token bucket in Redis for every instance.

Every check starts fresh copies of the app module (two where the check says so, as two
processes behind a load balancer would run it) on one empty Redis: fakeredis's in-process
server, or the real one `redis_url` names. The checks' clock replaces the `clock`
dependency of every copy: one value all instances read, far from Redis's own clock, moved
by hand. Requests come from the peer address a check chooses, the way a server fills
`request.client`. Buckets are read back from Redis through a client of the check's own;
a TTL is read, never waited for.
"""

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from workbook.loader import load_copy
from workbook.testing import (
    expect,
    expect_equal,
    expect_header,
    expect_json,
    expect_status,
    running,
)

# The contract says warnings are errors in the checks.
pytestmark = pytest.mark.filterwarnings("error")

START = 2_000_000_000.0  # the checks' clock (2033): far from Redis's own
CAPACITY = 5
SECONDS_PER_TOKEN = 2.0  # REFILL_PER_SECOND = 0.5
FULL_AFTER_MS = 10_000  # an empty bucket is full again after 10 s
POLICY = '"default";q=5;w=10'
PROBLEM = {
    "type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
    "title": "Too Many Requests",
    "status": 429,
    "violated-policies": ["default"],
}
CLIENT = "198.51.100.7"  # a client that talks to the app directly
PROXY = "10.0.0.2"  # one of TRUSTED_PROXIES
OTHER_PROXY = "10.0.0.3"  # the other one
BEHIND = "203.0.113.9"  # a client behind the proxies
SPOOF = "192.0.2.66"  # what a client writes into X-Forwarded-For itself

HEADERS_MISSING = (
    "Does every allowed answer carry the two headers? Set RateLimit-Policy and RateLimit on "
    "the Response a dependency receives, or they reach only the 429s."
)
HEADER_FORMAT = (
    'RateLimit is "default";r=<whole tokens left>;t=<seconds until one more whole token, '
    'rounded up>, and RateLimit-Policy is exactly "default";q=5;w=10: a quoted name, then '
    "parameters joined by ; without spaces."
)
NOT_SHARED = (
    "Does each instance keep its own count? The bucket must live in Redis, where every "
    "instance reads and writes the same hash; a dict (or slowapi's memory storage) in the "
    "process gives every instance a limit of its own."
)
NOT_ATOMIC = (
    "Do concurrent requests read the same level and each take the same token? Read and "
    "write the bucket in one WATCH/MULTI/EXEC transaction, and run it again on WatchError."
)
RETRY_AFTER = (
    "Retry-After is the whole seconds until one token is back, rounded UP: "
    "math.ceil((1 - level) / REFILL_PER_SECOND). Rounding down asks the client back too early."
)
REFILL = (
    "Does the bucket refill from the injected clock? level = min(CAPACITY, level + "
    "(now - updated) * REFILL_PER_SECOND), with now from the `clock` dependency, never from "
    "time.time() or time.monotonic()."
)
REFUSED_COSTS = (
    "Does a refused request take a token anyway, pushing the level below zero? Only an "
    "allowed request takes one."
)
CAPPED = "Is the refilled level capped at CAPACITY? An idle bucket holds 5 tokens, never more."
SKEW = (
    "A clock behind the bucket's own time counts as no time passed: max(0, now - updated). "
    "And the bucket keeps the later of the two times, so it never gains time twice."
)
TRUSTS_ANYONE = (
    "Is X-Forwarded-For read from every peer? Anyone can write that header: read it only "
    "when the direct peer (request.client.host) is one of TRUSTED_PROXIES."
)
LEFT_MOST = (
    "Is the client taken from the left of X-Forwarded-For? The client writes the left part "
    "itself. Walk the list from the right, skip our own proxies, and take the first other "
    "address."
)
RIGHT_MOST = (
    "Is the right-most X-Forwarded-For address taken even when it is one of our proxies? "
    "Each proxy appends the address it got the request from: skip every address in "
    "TRUSTED_PROXIES, from the right, before taking one."
)
ENTRIES = (
    "Are the entries stripped of their spaces, and empty ones skipped? Otherwise an entry "
    'like " 203.0.113.9" or "" is taken for the client.'
)
ONLY_PROXIES = "When every address is one of TRUSTED_PROXIES, the client is the left-most one."
ALL_LINES = (
    "Are all X-Forwarded-For lines read? request.headers.get gives only the first one; "
    "request.headers.getlist gives every line, in order: join them with commas."
)
USER_KEY = (
    'Is a request with a valid bearer token keyed by its user, "ratelimit:user:<name>"? '
    "HTTPBearer(auto_error=False) reads the header (any case of the scheme) and gives None "
    "when there is no bearer token; a token that is not in TOKENS falls back to the address."
)
NO_TTL = (
    "Does every write give the bucket's key a TTL? EXPIRE it with CAPACITY / "
    "REFILL_PER_SECOND = 10 seconds in the same transaction: an idle bucket is full by then, "
    "and a key without a TTL lives forever."
)
TTL_TOO_SHORT = (
    "Does the key expire before its bucket is full again? Its TTL must cover the time the "
    "bucket needs to refill, or the bucket comes back full too early."
)


class Clock:
    """The checks' clock: every instance of a check reads this one value."""

    def __init__(self, now: float) -> None:
        self.now = now

    async def __call__(self) -> float:
        return self.now


class Instance:
    """One running copy of the app, with its lifespan state, answering as a server would."""

    def __init__(self, module: ModuleType, state: dict[str, Any]) -> None:
        self.module = module
        self.state = state

    async def serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # as a server does: every request gets a shallow copy of the lifespan state
        await self.module.app({**scope, "state": dict(self.state)}, receive, send)

    async def get(
        self,
        path: str = "/items/lamp",
        *,
        peer: str = CLIENT,
        headers: Sequence[tuple[str, str]] = (),
    ) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.serve, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers=list(headers))


@asynccontextmanager
async def cluster(
    exercise: ModuleType, size: int = 1, *, clock: Clock | None = None
) -> AsyncIterator[list[Instance]]:
    """``size`` fresh copies of the app on one empty Redis, all reading ``clock``."""
    async with redis_probe(exercise) as probe:
        await probe.flushdb()
    async with AsyncExitStack() as stack:
        instances = []
        for _ in range(size):
            module = load_copy(Path(exercise.__file__))
            if clock is not None:
                module.app.dependency_overrides[module.clock] = clock
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


@pytest.fixture(autouse=True)
def services(redis_url: str | None) -> None:
    """Each check's instances share one empty Redis, named by the environment."""


def limit(r: int, t: int) -> str:
    return f'"default";r={r};t={t}'


def expect_allowed(response: httpx.Response, r: int, t: int, *, help: str | None = None) -> None:
    """200 with the item, and the headers of a bucket with r whole tokens left."""
    expect_status(response, 200, help=help)
    expect_header(response, "RateLimit-Policy", POLICY, help=HEADERS_MISSING)
    expect_header(response, "RateLimit", limit(r, t), help=help or HEADER_FORMAT)
    expect_header(response, "Retry-After", None)


def expect_refused(response: httpx.Response, retry_after: int, *, help: str | None = None) -> None:
    """429 with the problem body, Retry-After, and the headers of an empty bucket."""
    expect_status(response, 429, help=help)
    expect_header(response, "Retry-After", str(retry_after), help=help or RETRY_AFTER)
    expect_header(response, "RateLimit-Policy", POLICY, help=HEADER_FORMAT)
    expect_header(response, "RateLimit", limit(0, retry_after), help=help or HEADER_FORMAT)


async def drain(instance: Instance, **request: Any) -> None:
    """Take all CAPACITY tokens of a full bucket at the clock's current time."""
    for left in reversed(range(CAPACITY)):
        expect_allowed(await instance.get(**request), left, 2)


async def redis_ms(redis: Any) -> int:
    """The Redis server's own clock, in milliseconds."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


# -- allowed answers ---------------------------------------------------------------------------


async def test_allowed_answer(exercise):
    """an allowed answer is the item, with RateLimit-Policy and RateLimit"""
    async with cluster(exercise, clock=Clock(START)) as [app]:
        response = await app.get("/items/lamp")
        expect_allowed(response, 4, 2)
        expect_json(response, {"sku": "lamp"})


async def test_capacity(exercise):
    """CAPACITY requests in a row are allowed, whatever the path; the next one is refused"""
    async with cluster(exercise, clock=Clock(START)) as [app]:
        for left, sku in zip(
            range(4, -1, -1), ["lamp", "desk", "lamp", "chair", "shelf"], strict=True
        ):
            expect_allowed(await app.get(f"/items/{sku}"), left, 2)
        expect_refused(await app.get("/items/rug"), 2)


async def test_refused_answer(exercise):
    """a refused request gets 429 with a problem body, Retry-After and the headers"""
    async with cluster(exercise, clock=Clock(START)) as [app]:
        await drain(app)
        response = await app.get()
    expect_refused(response, 2)
    expect_header(response, "Content-Type", "application/problem+json")
    expect_json(response, PROBLEM)


async def test_default_clock(exercise):
    """without the checks' clock, the bucket runs on the given clock"""
    async with cluster(exercise) as [app]:
        expect_allowed(await app.get(), 4, 2)
        expect_allowed(await app.get(), 3, 2)


# -- refill on the injected clock --------------------------------------------------------------


@pytest.mark.parametrize(
    ("wait", "retry_after"),
    [(0.0, 2), (0.5, 2), (1.0, 1), (1.5, 1), (1.999, 1)],
    ids=["at once", "0.5 s", "1 s", "1.5 s", "1.999 s"],
)
async def test_retry_after(exercise, wait, retry_after):
    """Retry-After counts the whole seconds until a token is back, rounded up"""
    clock = Clock(START)
    async with cluster(exercise, clock=clock) as [app]:
        await drain(app)
        clock.now = START + wait
        expect_refused(await app.get(), retry_after, help=RETRY_AFTER)


async def test_token_comes_back(exercise):
    """a token comes back exactly 2 s after it was taken, not before"""
    clock = Clock(START)
    async with cluster(exercise, clock=clock) as [app]:
        await drain(app)
        clock.now = START + 1.999
        expect_refused(await app.get(), 1, help=REFILL)
        clock.now = START + SECONDS_PER_TOKEN
        expect_allowed(await app.get(), 0, 2, help=REFILL)
        expect_refused(await app.get(), 2, help=REFILL)


async def test_refused_costs_nothing(exercise):
    """a refused request takes no token"""
    clock = Clock(START)
    async with cluster(exercise, clock=clock) as [app]:
        await drain(app)
        for _ in range(3):
            expect_refused(await app.get(), 2)
        clock.now = START + SECONDS_PER_TOKEN
        expect_allowed(await app.get(), 0, 2, help=REFUSED_COSTS)


async def test_partial_tokens(exercise):
    """RateLimit counts whole tokens, and the seconds until the next whole one"""
    clock = Clock(START)
    async with cluster(exercise, clock=clock) as [app]:
        await drain(app)
        clock.now = START + 3.0  # 1.5 tokens back
        expect_allowed(await app.get(), 0, 1, help=HEADER_FORMAT)  # 0.5 left
        clock.now = START + 7.0  # 2.5 tokens
        expect_allowed(await app.get(), 1, 1, help=HEADER_FORMAT)  # 1.5 left
        expect_allowed(await app.get(), 0, 1, help=HEADER_FORMAT)  # 0.5 left
        expect_refused(await app.get(), 1)


async def test_bucket_is_capped(exercise):
    """an idle bucket fills up to CAPACITY tokens, never more"""
    clock = Clock(START)
    async with cluster(exercise, clock=clock) as [app]:
        expect_allowed(await app.get(), 4, 2)
        clock.now = START + 3600
        await drain(app)
        expect_refused(await app.get(), 2, help=CAPPED)


async def test_clock_behind(exercise):
    """a clock behind the bucket's time neither takes tokens away nor turns the bucket back"""
    clock = Clock(START)
    async with cluster(exercise, clock=clock) as [app]:
        expect_allowed(await app.get(), 4, 2)
        expect_allowed(await app.get(), 3, 2)
        clock.now = START - 4  # an instance whose clock is 4 s behind
        expect_allowed(await app.get(), 2, 2, help=SKEW)
        clock.now = START
        expect_allowed(await app.get(), 1, 2, help=SKEW)


# -- one bucket for every instance -------------------------------------------------------------


async def test_instances_share_the_bucket(exercise):
    """two instances on one Redis share one bucket"""
    async with cluster(exercise, 2, clock=Clock(START)) as [a, b]:
        for left in (4, 3, 2):
            expect_allowed(await a.get(), left, 2)
        for left in (1, 0):
            expect_allowed(await b.get(), left, 2, help=NOT_SHARED)
        expect_refused(await b.get(), 2, help=NOT_SHARED)
        expect_refused(await a.get(), 2, help=NOT_SHARED)


async def test_concurrent_requests(exercise):
    """of 12 concurrent requests on two instances, exactly CAPACITY get through"""
    async with cluster(exercise, 2, clock=Clock(START)) as [a, b]:
        responses = await asyncio.gather(*(app.get() for app in [a, b] * 6))
    statuses = sorted(response.status_code for response in responses)
    expect_equal("statuses", [200] * CAPACITY + [429] * 7, statuses, help=NOT_ATOMIC)
    allowed = [response for response in responses if response.status_code == 200]
    limits = sorted(response.headers.get("RateLimit", "no header") for response in allowed)
    expected = [limit(r, 2) for r in range(CAPACITY)]
    expect_equal("RateLimit of the allowed answers", expected, limits, help=NOT_ATOMIC)


# -- whose bucket ------------------------------------------------------------------------------

SUBJECTS = [
    pytest.param(CLIENT, [], f"ip:{CLIENT}", None, id="direct client"),
    pytest.param(
        CLIENT, [("X-Forwarded-For", BEHIND)], f"ip:{CLIENT}", TRUSTS_ANYONE, id="spoofed header"
    ),
    pytest.param(PROXY, [("X-Forwarded-For", BEHIND)], f"ip:{BEHIND}", None, id="behind proxy"),
    pytest.param(PROXY, [], f"ip:{PROXY}", None, id="proxy without header"),
    pytest.param(
        PROXY,
        [("X-Forwarded-For", f"{SPOOF}, {BEHIND}")],
        f"ip:{BEHIND}",
        LEFT_MOST,
        id="client wrote the left part",
    ),
    pytest.param(
        PROXY,
        [("X-Forwarded-For", f"{BEHIND}, {OTHER_PROXY}")],
        f"ip:{BEHIND}",
        RIGHT_MOST,
        id="two proxies",
    ),
    pytest.param(
        PROXY,
        [("X-Forwarded-For", SPOOF), ("X-Forwarded-For", f"{BEHIND},{OTHER_PROXY}")],
        f"ip:{BEHIND}",
        ALL_LINES,
        id="two header lines",
    ),
    pytest.param(
        PROXY,
        [("X-Forwarded-For", f" {BEHIND},, {OTHER_PROXY} ,")],
        f"ip:{BEHIND}",
        ENTRIES,
        id="spaces and empty entries",
    ),
    pytest.param(
        PROXY,
        [("X-Forwarded-For", OTHER_PROXY)],
        f"ip:{OTHER_PROXY}",
        ONLY_PROXIES,
        id="only proxies",
    ),
    pytest.param(
        CLIENT, [("Authorization", "Bearer tok-ada")], "user:ada", USER_KEY, id="bearer token"
    ),
    pytest.param(
        PROXY,
        [("Authorization", "bearer tok-grace"), ("X-Forwarded-For", BEHIND)],
        "user:grace",
        USER_KEY,
        id="scheme in lower case",
    ),
    pytest.param(
        CLIENT,
        [("Authorization", "Bearer tok-nobody")],
        f"ip:{CLIENT}",
        USER_KEY,
        id="unknown token",
    ),
    pytest.param(
        CLIENT,
        [("Authorization", "Basic tok-ada")],
        f"ip:{CLIENT}",
        USER_KEY,
        id="another scheme",
    ),
]


@pytest.mark.parametrize(("peer", "headers", "subject", "help"), SUBJECTS)
async def test_bucket_key(exercise, peer, headers, subject, help):
    """a request uses the bucket of its user, or of its client's address"""
    async with cluster(exercise, clock=Clock(START)) as [app], redis_probe(exercise) as probe:
        expect_allowed(await app.get(peer=peer, headers=headers), 4, 2)
        keys = sorted(await probe.keys("*"))
    expect_equal("keys in Redis", [f"ratelimit:{subject}"], keys, help=help)


async def test_subjects_have_their_own_buckets(exercise):
    """each user and each address has a bucket of its own"""
    ada = [("Authorization", "Bearer tok-ada")]
    async with cluster(exercise, clock=Clock(START)) as [app]:
        await drain(app, headers=ada)
        expect_refused(await app.get(headers=ada), 2)
        expect_allowed(await app.get(), 4, 2, help=USER_KEY)
        expect_allowed(await app.get(headers=[("Authorization", "Bearer tok-grace")]), 4, 2)
        expect_refused(await app.get(peer=PROXY, headers=ada), 2, help=USER_KEY)
        expect_allowed(await app.get(peer="198.51.100.8"), 4, 2)


# -- nothing lives forever ---------------------------------------------------------------------


async def bucket_ttl(probe: Any, key: str, since: int) -> tuple[int, int]:
    """What is left of the key's TTL, and the milliseconds since ``since`` (Redis time)."""
    left = await probe.pttl(key)
    passed = await redis_ms(probe) - since
    expect(left != -2, f"expected a bucket at {key}, found none")
    expect(left != -1, f"expected {key} to expire, not to live forever", help=NO_TTL)
    return left, passed


async def test_empty_bucket_expires_when_full_again(exercise):
    """an empty bucket's key expires exactly when the bucket would be full: 10 s"""
    key = f"ratelimit:ip:{CLIENT}"
    async with cluster(exercise, clock=Clock(START)) as [app], redis_probe(exercise) as probe:
        for left in (4, 3, 2, 1):
            expect_allowed(await app.get(), left, 2)
        since = await redis_ms(probe)
        expect_allowed(await app.get(), 0, 2)
        left, passed = await bucket_ttl(probe, key, since)
    expect(
        left <= FULL_AFTER_MS <= left + passed + 1,
        f"expected {key} to expire 10 s after the last request, not after about "
        f"{math.ceil(left / 1000)} s",
        help=NO_TTL if left > FULL_AFTER_MS else TTL_TOO_SHORT,
    )


@pytest.mark.parametrize(
    "headers", [[], [("Authorization", "Bearer tok-ada")]], ids=["address", "user"]
)
async def test_every_key_expires(exercise, headers):
    """every key expires no later than 10 s, and not before its bucket is full"""
    async with cluster(exercise, clock=Clock(START)) as [app], redis_probe(exercise) as probe:
        since = await redis_ms(probe)
        expect_allowed(await app.get(headers=headers), 4, 2)
        keys = await probe.keys("*")
        expect(keys, "expected a bucket in Redis after a request, found no key")
        for key in keys:
            left, passed = await bucket_ttl(probe, key, since)
            expect(
                left <= FULL_AFTER_MS,
                f"expected {key} to expire within 10 s, not after {math.ceil(left / 1000)} s",
                help=NO_TTL,
            )
            expect(
                left + passed + 1 >= 2 * 1000,
                f"expected {key} to live at least 2 s (until its bucket is full), not {left} ms",
                help=TTL_TOO_SHORT,
            )


async def test_refused_bucket_keeps_its_ttl(exercise):
    """a bucket still expires after refused requests"""
    key = f"ratelimit:ip:{CLIENT}"
    async with cluster(exercise, clock=Clock(START)) as [app], redis_probe(exercise) as probe:
        await drain(app)
        since = await redis_ms(probe)
        for _ in range(2):
            expect_refused(await app.get(), 2)
        left, _ = await bucket_ttl(probe, key, since)
    expect(
        0 < left <= FULL_AFTER_MS,
        f"expected {key} to expire within 10 s, not after {math.ceil(left / 1000)} s",
        help=NO_TTL,
    )
