"""Hidden checks for 01_async_foundations/05_threadpool_budget.

The shared pool is the event loop's default AnyIO thread limiter: FastAPI's def endpoints,
def dependencies and run_in_threadpool all borrow its tokens.  The checks shrink it (it
belongs to the test's own event loop, so nothing leaks) and take tokens themselves, then
see whether the app still answers.  A fake geocoder hangs until released, and tells the
loop how many calls hang at once.  Every wait is bounded: a check waits WAIT_S for the
app, and the fake hangs at most HANG_S, longer, so no hang ends while a check still waits.
Proving that no fifth call starts is the one wait for something that must not happen: it
lasts GRACE_S, far longer than a worker thread takes to start a call it was handed.
"""

import asyncio
import threading
from collections.abc import Callable, Iterator
from types import ModuleType

import anyio
import httpx
import pytest

from workbook.testing import (
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    provide,
)

WAIT_S = 1.0  # how long a check waits for the app: a thread starts in well under that
HANG_S = 2.5  # how long the fake geocoder hangs at most: longer, so a hang outlasts any check
GRACE_S = 0.25  # how long a check gives a call over budget to start: it would in microseconds
BUDGET = 4  # GEOCODER_THREADS as the contract states it: the checks hold the app to this number
COORDINATES = {"lat": 51.5007, "lon": -0.1246}
EIFFEL_TOWER = {"lat": 48.8584, "lon": 2.2945}  # what the given Geocoder answers
SYNC_DEPENDENCY_HELP = (
    "Is a dependency of /health a plain def? FastAPI runs def dependencies in the "
    "threadpool; a trivial one that never blocks can be an async def."
)
SHARED_POOL_HELP = (
    "Do the geocoder calls go through run_in_threadpool? That borrows the shared pool's "
    "threads. Give them a limiter of their own: anyio.to_thread.run_sync(..., limiter=...)."
)
ON_LOOP_HELP = "Does /locate call the geocoder directly inside an async def?"
PER_REQUEST_HELP = (
    "Is the geocoder's limiter created inside the endpoint? A limiter made per request "
    "caps nothing: create one in the lifespan and let every request use that one."
)
TOO_SMALL_HELP = (
    "Is the geocoder's limiter smaller than GEOCODER_THREADS? Create it with "
    "anyio.CapacityLimiter(GEOCODER_THREADS)."
)


class HangingGeocoder:
    """A fake geocoder whose calls hang until released, bounded by HANG_S."""

    def __init__(self, *, hang: bool) -> None:
        self.threads: list[int] = []
        self.addresses: list[str] = []
        self.peak = 0  # most calls hanging at the same time
        # reached[n] is set on the loop once n calls hang at once (or once a hang runs out)
        self.reached = {n: asyncio.Event() for n in range(1, BUDGET + 2)}
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._lock = threading.Lock()
        self._inside = 0
        self._released = threading.Event()
        self._stalled = False  # a wait ran out: never wait again, so nothing piles up
        if not hang:
            self._released.set()

    def locate(self, address: str) -> dict[str, float]:
        with self._lock:
            self.threads.append(threading.get_ident())
            self.addresses.append(address)
            self._inside += 1
            self.peak = max(self.peak, self._inside)
            if self._inside in self.reached:
                self._loop.call_soon_threadsafe(self.reached[self._inside].set)
        if threading.get_ident() == self._loop_thread:
            # hanging here would stop the loop and every check with it: answer at once
            for event in self.reached.values():
                event.set()
        elif not self._stalled and not self._released.wait(HANG_S):
            self._stalled = True
            for event in self.reached.values():  # stop the check waiting
                self._loop.call_soon_threadsafe(event.set)
        with self._lock:
            self._inside -= 1
        return COORDINATES

    async def hanging(self, calls: int, within: float) -> bool:
        """Whether `calls` calls hang at once before `within` seconds run out."""
        with anyio.move_on_after(within):
            await self.reached[calls].wait()
        return self.peak >= calls

    def release(self) -> None:
        self._released.set()


Install = Callable[..., HangingGeocoder]


@pytest.fixture
def use_geocoder(exercise: ModuleType) -> Iterator[Install]:
    """Serve /locate from a fake geocoder; remove the override afterwards."""

    def install(*, hang: bool) -> HangingGeocoder:
        geocoder = HangingGeocoder(hang=hang)
        exercise.app.dependency_overrides[exercise.get_geocoder] = provide(geocoder)
        return geocoder

    yield install
    exercise.app.dependency_overrides.pop(exercise.get_geocoder, None)


async def test_health_needs_no_pool_thread(exercise: ModuleType) -> None:
    """GET /health answers even when every thread of the shared pool is taken"""
    async with client_for(exercise.app) as client:
        pool = anyio.to_thread.current_default_thread_limiter()
        pool.total_tokens = 1
        holder = object()  # stands in for a request that holds the pool's last thread
        await pool.acquire_on_behalf_of(holder)
        try:
            with anyio.move_on_after(WAIT_S) as waited:
                response = await client.get("/health")
        finally:
            pool.release_on_behalf_of(holder)
    expect(
        not waited.cancelled_caught,
        f"GET /health waited for a free thread of the shared pool for {WAIT_S:g} s",
        help=SYNC_DEPENDENCY_HELP,
    )
    expect_status(response, 200)
    expect_json(response, {"status": "ok", "region": "eu-west"})


async def test_hanging_geocoder_spares_the_pool(
    exercise: ModuleType, use_geocoder: Install
) -> None:
    """while /locate calls hang, other work still finds a free thread in the shared pool"""
    geocoder = use_geocoder(hang=True)
    async with client_for(exercise.app) as client:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2
        calls = [
            asyncio.create_task(client.get("/locate", params={"address": address}))
            for address in ("Paris", "Rome")
        ]
        try:
            await geocoder.hanging(2, within=WAIT_S)
            with anyio.move_on_after(WAIT_S) as probe:
                await anyio.to_thread.run_sync(threading.get_ident)  # work that needs a thread
        finally:
            geocoder.release()
            responses = await asyncio.gather(*calls)
    on_loop = threading.get_ident() in geocoder.threads
    expect(
        geocoder.peak == 2,
        "two /locate calls never hung at the same time",
        help=ON_LOOP_HELP if on_loop else TOO_SMALL_HELP,
    )
    expect(
        not probe.cancelled_caught,
        "while two /locate calls hung, no thread of the shared pool was free for other work",
        help=SHARED_POOL_HELP,
    )
    for response in responses:
        expect_status(response, 200)


@pytest.mark.stub_may_pass("the stub already runs the geocoder on a worker thread")
async def test_locate_answers(exercise: ModuleType, use_geocoder: Install) -> None:
    """GET /locate answers the geocoder's coordinates for the address, found on a worker thread"""
    geocoder = use_geocoder(hang=False)
    async with client_for(exercise.app) as client:
        response = await client.get("/locate", params={"address": "Westminster"})
    expect_status(response, 200)
    expect_json(response, COORDINATES)
    expect_equal("addresses asked of the geocoder", ["Westminster"], geocoder.addresses)
    expect(
        threading.get_ident() not in geocoder.threads,
        "the geocoder ran on the event loop's thread",
        help=ON_LOOP_HELP,
    )


async def locate_many(
    exercise: ModuleType, geocoder: HangingGeocoder, calls: int
) -> tuple[bool, bool, list[httpx.Response]]:
    """Send `calls` /locate requests at once while the geocoder hangs.

    Answers whether BUDGET calls hung at once, whether one more did within GRACE_S (asked
    only when more calls were sent), and the responses once the geocoder is released.
    """
    async with client_for(exercise.app) as client:
        requests = [
            asyncio.create_task(client.get("/locate", params={"address": f"street {n}"}))
            for n in range(calls)
        ]
        try:
            budget_hung = await geocoder.hanging(BUDGET, within=WAIT_S)
            over = calls > BUDGET and budget_hung
            over_budget = over and await geocoder.hanging(BUDGET + 1, within=GRACE_S)
        finally:
            geocoder.release()
            responses = await asyncio.gather(*requests)
    return budget_hung, over_budget, responses


@pytest.mark.stub_may_pass("the stub's shared pool of 40 threads lets four calls hang too")
async def test_budget_holds_four_calls(exercise: ModuleType, use_geocoder: Install) -> None:
    """four /locate calls (GEOCODER_THREADS) can hang at the same time"""
    geocoder = use_geocoder(hang=True)
    budget_hung, _, responses = await locate_many(exercise, geocoder, BUDGET)
    on_loop = threading.get_ident() in geocoder.threads
    expect(
        budget_hung,
        f"expected {BUDGET} geocoder calls hanging at once, not {geocoder.peak}",
        help=ON_LOOP_HELP if on_loop else TOO_SMALL_HELP,
    )
    for response in responses:
        expect_status(response, 200)


async def test_budget_shared_by_all_requests(exercise: ModuleType, use_geocoder: Install) -> None:
    """at most four /locate calls run at once, however many requests arrive together"""
    geocoder = use_geocoder(hang=True)
    _, over_budget, responses = await locate_many(exercise, geocoder, BUDGET + 1)
    expect(
        not over_budget,
        f"expected at most {BUDGET} geocoder calls at once, not {geocoder.peak}",
        help=PER_REQUEST_HELP,
    )
    for response in responses:
        expect_status(response, 200)


@pytest.mark.stub_may_pass("the stub's Geocoder and get_geocoder are given")
async def test_locate_uses_the_given_geocoder(exercise: ModuleType) -> None:
    """with nothing overridden, GET /locate answers the given Geocoder's coordinates"""
    async with client_for(exercise.app) as client:
        response = await client.get("/locate", params={"address": "Champ de Mars"})
    expect_status(response, 200)
    expect_json(response, EIFFEL_TOWER)
