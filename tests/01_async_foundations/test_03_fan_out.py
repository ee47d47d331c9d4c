"""Hidden checks for 01_async_foundations/03_fan_out.

The three services are one httpx.MockTransport with an async handler, scripted per check:
a barrier (each call waits until all three are in flight), an answering order, failures,
calls that never answer.  No sleeps: every wait is an event, bounded by WAIT_S, and once
one wait runs out none waits again, so an app that calls the services one by one fails
within WAIT_S instead of hanging.
"""

from collections.abc import AsyncIterator
from types import ModuleType

import anyio
import httpx
import pytest

from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    provide,
)

WAIT_S = 1.0  # generous: with no threads involved, the calls overlap within microseconds
SOURCES = ("profile", "orders", "recommendations")
URLS = {
    "http://profile.internal/users/7": "profile",
    "http://orders.internal/users/7/orders": "orders",
    "http://recommendations.internal/users/7": "recommendations",
}
DATA = {
    "profile": {"name": "Ada", "tier": "gold"},
    "orders": [{"id": 31, "total": "12.50"}, {"id": 32, "total": "3.20"}],
    "recommendations": [{"sku": "tea-01"}, {"sku": "mug-07"}],
}
DASHBOARD = {
    "user_id": 7,
    "panels": [{"source": source, "data": DATA[source]} for source in SOURCES],
}
SEQUENTIAL_HELP = (
    "Are the upstream calls awaited one after another? Start all three in a task group "
    "(asyncio.TaskGroup or anyio.create_task_group) and collect the results after it."
)
GATHER_HELP = (
    "Do you use asyncio.gather or asyncio.as_completed? When one call fails, they hand you "
    "the error but leave the other calls running. A task group cancels them."
)
GROUP_HELP = (
    "A task group wraps its tasks' errors in an ExceptionGroup, which a plain except does "
    "not catch. Did you catch it with except* and raise the HTTPException found inside?"
)


class FakeUpstreams:
    """The three services behind one MockTransport, scripted by the check that uses it."""

    def __init__(self) -> None:
        self.barrier = False  # every call waits until all three are in flight
        self.answer_after: dict[str, str] = {}  # source -> the source it answers after
        self.failures: dict[str, str] = {}  # source -> "answers 500" | "cannot be reached"
        self.hold: set[str] = set()  # sources that answer only when WAIT_S runs out
        self.in_flight = 0
        self.peak = 0
        self.stalled = False  # a wait ran out: the calls did not overlap as scripted
        self.cancelled: list[str] = []
        self._all_in = anyio.Event()
        self._answered = {source: anyio.Event() for source in SOURCES}

    async def handle(self, request: httpx.Request) -> httpx.Response:
        source = URLS.get(str(request.url))
        if source is None:
            return httpx.Response(404, json={"error": f"nothing at {request.url}"})
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.in_flight == len(SOURCES):
            self._all_in.set()
        try:
            return await self._answer(source, request)
        except anyio.get_cancelled_exc_class():
            self.cancelled.append(source)
            raise
        finally:
            self.in_flight -= 1

    async def _answer(self, source: str, request: httpx.Request) -> httpx.Response:
        waits = []
        if self.barrier:
            waits.append(self._all_in)
        if source in self.answer_after:
            waits.append(self._answered[self.answer_after[source]])
        if source in self.hold:
            waits.append(anyio.Event())  # nobody sets it: only cancelling ends it early
        for event in waits:
            if not await self._wait(event):
                return httpx.Response(504, json={"error": "gave up waiting for the other calls"})
        self._answered[source].set()
        failure = self.failures.get(source)
        if failure == "cannot be reached":
            raise httpx.ConnectError("connection refused", request=request)
        if failure == "answers 500":
            return httpx.Response(500, json={"error": "internal error"})
        return httpx.Response(200, json=DATA[source])

    async def _wait(self, event: anyio.Event) -> bool:
        """Wait for the event, bounded; once a wait has run out, never wait again."""
        if not self.stalled:
            with anyio.move_on_after(WAIT_S) as scope:
                await event.wait()
            self.stalled = scope.cancelled_caught
        return not self.stalled


@pytest.fixture
async def upstreams(exercise: ModuleType) -> AsyncIterator[FakeUpstreams]:
    """Route the app's upstream calls to the fake services; remove the override afterwards."""
    fake = FakeUpstreams()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handle)) as http:
        exercise.app.dependency_overrides[exercise.get_client] = provide(http)
        yield fake
    exercise.app.dependency_overrides.pop(exercise.get_client, None)


async def get_dashboard(exercise: ModuleType) -> httpx.Response:
    """GET /dashboard/7; an exception group escaping the app is a known mistake."""
    async with client_for(exercise.app) as client:
        try:
            return await client.get("/dashboard/7")
        except ExceptionGroup as group:
            message = f"expected an answer, but an exception group escaped the app: {group}"
            raise Failure(message, help=GROUP_HELP) from group


async def test_calls_overlap(exercise: ModuleType, upstreams: FakeUpstreams) -> None:
    """the three upstream calls are in flight at the same time"""
    upstreams.barrier = True
    response = await get_dashboard(exercise)
    hint = SEQUENTIAL_HELP if upstreams.peak == 1 else None
    expect(
        upstreams.peak == 3, f"expected 3 calls in flight at once, not {upstreams.peak}", help=hint
    )
    expect_status(response, 200)


async def test_panels_in_order(exercise: ModuleType, upstreams: FakeUpstreams) -> None:
    """the panels come in the order profile, orders, recommendations, whoever answers first"""
    upstreams.answer_after = {"profile": "orders", "orders": "recommendations"}
    response = await get_dashboard(exercise)
    hint = SEQUENTIAL_HELP if upstreams.stalled else None
    expect_status(response, 200, help=hint)
    expect_json(response, DASHBOARD, help=hint)


@pytest.mark.parametrize("failure", ["answers 500", "cannot be reached"])
@pytest.mark.parametrize("source", SOURCES)
async def test_failure_is_502(
    exercise: ModuleType, upstreams: FakeUpstreams, source: str, failure: str
) -> None:
    """when the {source} upstream {failure}, the dashboard answers 502 naming it"""
    upstreams.failures = {source: failure}
    response = await get_dashboard(exercise)
    expect_status(response, 502)
    expect_json(response, {"detail": f"{source} upstream failed"})


async def test_failure_cancels_the_rest(exercise: ModuleType, upstreams: FakeUpstreams) -> None:
    """when one upstream fails, the calls still in flight are cancelled, not awaited"""
    upstreams.barrier = True
    upstreams.failures = {"orders": "answers 500"}
    upstreams.hold = {"profile", "recommendations"}
    response = await get_dashboard(exercise)
    expect_status(response, 502, help=SEQUENTIAL_HELP if upstreams.peak == 1 else None)
    expect_json(response, {"detail": "orders upstream failed"})
    cancelled = sorted(upstreams.cancelled)
    hint = GATHER_HELP if not cancelled else None
    expect_equal("calls cancelled", ["profile", "recommendations"], cancelled, help=hint)
