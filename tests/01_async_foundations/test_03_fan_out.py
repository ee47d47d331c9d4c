"""Hidden checks for 01_async_foundations/03_fan_out.

The three services are one httpx.MockTransport with an async handler, scripted per check:
a barrier (each call waits until all three are in flight), an answering order, statuses,
transport errors, calls that never answer.  No sleeps: every wait is an event, bounded by
WAIT_S, and once one wait runs out none waits again, so an app that calls the services one
by one fails within WAIT_S instead of hanging.  The shared client itself is checked through
a probe route that depends on the real get_client.
"""

from collections.abc import AsyncIterator
from types import ModuleType
from typing import Annotated

import anyio
import httpx
import pytest
from fastapi import Depends

from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    provide,
)

WAIT_S = 0.5  # generous: with no threads involved, the calls overlap within microseconds
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
PROBE = "/probe-client"  # a route the checks add, depending on the real get_client
NOT_JSON_HELP = (
    "Is the upstream's body read outside the error handling? response.json() raises a "
    "ValueError on a body that is not JSON: that upstream failed too, so answer 502."
)
SEQUENTIAL_HELP = (
    "Are the upstream calls awaited one after another? Start all three in a task group "
    "(asyncio.TaskGroup or anyio.create_task_group) and collect the results after it."
)
GATHER_HELP = (
    "Do you use asyncio.gather or asyncio.as_completed? When one call fails, they hand you "
    "the error but leave the other calls running. A task group cancels them."
)
REDIRECT_HELP = (
    "Do you treat only a status of 400 or more as a failure? Any status outside 200-299 "
    "fails, a redirect included: response.is_success or raise_for_status() tells you."
)
STATUS_HELP = (
    "Do you check the upstream's status at all? A 4xx answer is a failure too: "
    "response.raise_for_status() (or response.is_success) covers every status."
)
TRANSPORT_HELP = (
    "Do you catch only httpx.ConnectError? A timeout or a dropped connection is a transport "
    "error too: catch httpx.TransportError (or httpx.HTTPError)."
)
PER_REQUEST_HELP = (
    "Does get_client open a new httpx.AsyncClient for each request? Open one in the "
    "lifespan, hand it to the app's state, and have get_client return that one."
)
CLOSE_HELP = (
    "Is the client closed when the app shuts down? Open it with async with inside the "
    "lifespan, around the yield."
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
        self.statuses: dict[str, int] = {}  # source -> the status it answers with, not 200
        self.errors: dict[str, type[httpx.TransportError]] = {}  # source -> what its call raises
        self.not_json: set[str] = set()  # sources that answer 200 with an HTML page
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
        if source in self.errors:
            raise self.errors[source]("the call failed", request=request)
        if source in self.not_json:
            return httpx.Response(200, html="<html><body>Maintenance</body></html>")
        return httpx.Response(self.statuses.get(source, 200), json=DATA[source])

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


FAILURES = {  # how an upstream fails -> the status it answers with, or the error raised
    "answers 500": 500,
    "answers 404": 404,
    "cannot be reached": httpx.ConnectError,
    "times out": httpx.ReadTimeout,
    "answers 200 with an HTML page": "html",
}


def script_failure(upstreams: FakeUpstreams, source: str, failure: int | type | str) -> None:
    if failure == "html":
        upstreams.not_json.add(source)
    elif isinstance(failure, int):
        upstreams.statuses[source] = failure
    else:
        upstreams.errors[source] = failure


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("source", SOURCES)
async def test_failure_is_502(
    exercise: ModuleType, upstreams: FakeUpstreams, source: str, failure: str
) -> None:
    """when the {source} upstream {failure}, the dashboard answers 502 naming it"""
    script_failure(upstreams, source, FAILURES[failure])
    response = await get_dashboard(exercise)
    hint = {
        "answers 404": STATUS_HELP,
        "times out": TRANSPORT_HELP,
        "answers 200 with an HTML page": NOT_JSON_HELP,
    }.get(failure)
    expect_status(response, 502, help=hint)
    expect_json(response, {"detail": f"{source} upstream failed"})


@pytest.mark.parametrize("status", [199, 300, 302, 399, 400, 499, 599])
async def test_status_outside_2xx_fails(
    exercise: ModuleType, upstreams: FakeUpstreams, status: int
) -> None:
    """an upstream status of {status} (outside 200-299) is a failure: 502"""
    upstreams.statuses["orders"] = status
    response = await get_dashboard(exercise)
    hint = REDIRECT_HELP if 300 <= status < 400 else None
    expect_status(response, 502, help=hint)
    expect_json(response, {"detail": "orders upstream failed"})


@pytest.mark.stub_may_pass("the stub already shows whatever JSON an upstream answers with")
@pytest.mark.parametrize("status", [200, 201, 299])
async def test_status_2xx_succeeds(
    exercise: ModuleType, upstreams: FakeUpstreams, status: int
) -> None:
    """an upstream status of {status} is a success: its JSON is the panel's data"""
    upstreams.statuses["orders"] = status
    response = await get_dashboard(exercise)
    expect_status(response, 200)
    expect_json(response, DASHBOARD)


@pytest.mark.parametrize(("first", "then"), [("recommendations", "orders"), ("orders", "profile")])
async def test_first_failure_named(
    exercise: ModuleType, upstreams: FakeUpstreams, first: str, then: str
) -> None:
    """when {first} fails and then {then} fails, the 502 names {first}, the first to fail"""
    upstreams.statuses = {first: 500, then: 500}
    upstreams.answer_after = {then: first}
    upstreams.hold = set(SOURCES) - {first, then}
    response = await get_dashboard(exercise)
    expect_status(response, 502)
    expect_json(response, {"detail": f"{first} upstream failed"})


async def test_mixed_failures_name_the_first(
    exercise: ModuleType, upstreams: FakeUpstreams
) -> None:
    """when one upstream cannot be reached and then another answers HTML, the 502 names the first"""
    upstreams.errors = {"recommendations": httpx.ConnectError}
    upstreams.not_json = {"profile"}
    upstreams.answer_after = {"profile": "recommendations"}
    upstreams.hold = {"orders"}
    response = await get_dashboard(exercise)
    expect_status(response, 502, help=NOT_JSON_HELP)
    expect_json(response, {"detail": "recommendations upstream failed"})


async def test_failure_cancels_the_rest(exercise: ModuleType, upstreams: FakeUpstreams) -> None:
    """when one upstream fails, the calls still in flight are cancelled, not awaited"""
    upstreams.barrier = True
    upstreams.statuses = {"orders": 500}
    upstreams.hold = {"profile", "recommendations"}
    response = await get_dashboard(exercise)
    expect_status(response, 502, help=SEQUENTIAL_HELP if upstreams.peak == 1 else None)
    expect_json(response, {"detail": "orders upstream failed"})
    cancelled = sorted(upstreams.cancelled)
    hint = GATHER_HELP if not cancelled else None
    expect_equal("calls cancelled", ["profile", "recommendations"], cancelled, help=hint)


async def clients_seen(exercise: ModuleType, requests: int) -> tuple[list[object], list[bool]]:
    """The clients get_client hands to `requests` requests, and whether each was open then.

    A probe route depending on the real get_client (no override) is added for the check.
    """
    seen: list[object] = []
    open_then: list[bool] = []

    async def probe(client: Annotated[object, Depends(exercise.get_client)]) -> None:
        seen.append(client)
        open_then.append(isinstance(client, httpx.AsyncClient) and not client.is_closed)

    exercise.app.add_api_route(PROBE, probe)
    try:
        async with client_for(exercise.app) as http:
            for _ in range(requests):
                expect_status(await http.get(PROBE), 200)
    finally:
        routes = exercise.app.router.routes
        routes[:] = [route for route in routes if getattr(route, "path", None) != PROBE]
    return seen, open_then


@pytest.mark.stub_may_pass("the stub's lifespan and get_client are given")
async def test_client_is_shared(exercise: ModuleType) -> None:
    """get_client hands every request the same open httpx.AsyncClient"""
    seen, open_then = await clients_seen(exercise, requests=2)
    expect_equal("open httpx.AsyncClient per request", [True, True], open_then)
    expect(
        seen[0] is seen[1], "expected one client for both requests, not two", help=PER_REQUEST_HELP
    )


@pytest.mark.stub_may_pass("the stub's lifespan and get_client are given")
async def test_client_closed_at_shutdown(exercise: ModuleType) -> None:
    """the shared client is closed when the app shuts down"""
    seen, _ = await clients_seen(exercise, requests=1)
    client = seen[0]
    closed = isinstance(client, httpx.AsyncClient) and client.is_closed
    expect(
        closed, "expected the client to be closed after shutdown, but it is open", help=CLOSE_HELP
    )
