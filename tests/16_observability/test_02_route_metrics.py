"""Hidden suite for 16_observability/02_route_metrics: metrics labelled by route template.

The checks build the app with `create_app(clock=...)` and a clock of their own, whose time
moves only when a probe route of the checks moves it, so every observed duration is known
exactly. They read the metrics two ways: from the registry the lifespan put in its state
(`get_sample_value`, and every sample collected), and from `/metrics`, parsed with
prometheus_client's own text parser.
"""

import inspect
import time
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import anyio
import pytest
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from workbook.testing import (
    HANG_GUARD,
    Failure,
    RawExchange,
    client_for,
    expect,
    expect_equal,
    running,
)

REQUESTS = "http_requests_total"
DURATIONS = "http_request_duration_seconds"
EXPECTED_BUCKETS = [
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "1.0",
    "2.5",
    "5.0",
    "+Inf",
]
START = 1000.0

REGISTRY = (
    'Does the lifespan make a new CollectorRegistry and yield it as state["registry"], with '
    "both metrics registered in it (registry=...), never in prometheus_client's global REGISTRY?"
)
ONCE = (
    "Does the middleware count each request exactly once, after the app has returned or "
    "raised (in a finally), and observe its duration once?"
)
ROUTE = (
    "Is the route label the template of the route that matched (scope['route'].path, read "
    "after the app has run), and UNMATCHED when no route matched? Never the raw path."
)
STATUS = (
    "Is the status label the status of the http.response.start the app sent, as a string, "
    "and '500' when the app raised before starting a response?"
)
DURATION = (
    "Is the clock read once before calling the app and once after it has returned or "
    "raised, and end - start (in seconds) observed in the histogram?"
)
EXPOSITION = (
    "Does GET /metrics answer generate_latest(the app's registry) with media_type "
    "CONTENT_TYPE_LATEST, and is it left out of the counts?"
)


class Clock:
    """Time that moves only when told to."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(exercise: ModuleType, clock: Clock) -> FastAPI:
    """The learner's app on the checks' clock, with the checks' probe routes."""
    app = exercise.create_app(clock=clock)

    async def wait(seconds: float) -> dict[str, float]:
        clock.now += seconds
        return {"waited": seconds}

    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first\n"
            clock.now += 0.5
            yield b"second\n"
            clock.now += 0.25

        return StreamingResponse(chunks(), media_type="text/plain")

    async def status(code: int) -> Response:
        return Response(status_code=code)

    app.add_api_route("/probe/wait/{seconds}", wait, methods=["GET"])
    app.add_api_route("/probe/stream", stream, methods=["GET"])
    app.add_api_route("/probe/status/{code}", status, methods=["GET"])
    return app


def registry_of(state: dict[str, Any]) -> CollectorRegistry:
    registry = state.get("registry")
    if not isinstance(registry, CollectorRegistry):
        raise Failure(
            f'expected a CollectorRegistry in the lifespan state as "registry", not {registry!r}',
            help=REGISTRY,
        )
    return registry


def series(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample called `name`, by its labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name
    }


def counts(registry: CollectorRegistry) -> dict[str, float]:
    """http_requests_total by "method route status"."""
    found = {}
    for labels, value in series(registry, REQUESTS).items():
        named = dict(labels)
        expect_equal(
            f"labels of {REQUESTS}",
            ["method", "route", "status"],
            sorted(named),
            help="Is the counter labelled by method, route and status, and nothing else?",
        )
        found[f"{named['method']} {named['route']} {named['status']}"] = value
    return found


def observations(registry: CollectorRegistry) -> dict[str, float]:
    """http_request_duration_seconds_count by "method route"."""
    found = {}
    for labels, value in series(registry, DURATIONS + "_count").items():
        named = dict(labels)
        expect_equal(
            f"labels of {DURATIONS}",
            ["method", "route"],
            sorted(named),
            help="Is the histogram labelled by method and route, and nothing else?",
        )
        found[f"{named['method']} {named['route']}"] = value
    return found


@pytest.mark.stub_may_pass("the routes are given")
async def test_the_given_routes_answer(app: FastAPI) -> None:
    async with client_for(app) as client:
        items = [(await client.get(f"/items/{item_id}")).json() for item_id in (1, 2)]
        export = await client.get("/items/export")
    expected = [{"id": 1, "name": "tea"}, {"id": 2, "name": "scones"}]
    expect_equal("items", expected, items, help="Keep the given routes as they are.")
    expect_equal(
        "export",
        '{"id": 1, "name": "tea"}\n{"id": 2, "name": "scones"}\n',
        export.text,
        help="Keep the given routes as they are.",
    )


async def test_a_request_is_counted_once(app: FastAPI) -> None:
    async with running(app) as (client, state):
        registry = registry_of(state)
        expect_equal("counts before any request", {}, counts(registry), help=REGISTRY)
        await client.get("/items/1")
        expect_equal(
            "counts after one request",
            {"GET /items/{item_id} 200": 1.0},
            counts(registry),
            help=ONCE,
        )
        expect_equal(
            "observations after one request",
            {"GET /items/{item_id}": 1.0},
            observations(registry),
            help=ONCE,
        )
        await client.get("/items/2")
        await client.get("/items/1")
        expect_equal(
            "counts after three requests",
            {"GET /items/{item_id} 200": 3.0},
            counts(registry),
            help=ONCE,
        )
        expect_equal(
            "observations after three requests",
            {"GET /items/{item_id}": 3.0},
            observations(registry),
            help=ONCE,
        )


@pytest.mark.parametrize(
    ("method", "path", "route", "status"),
    [
        ("GET", "/items/9", "/items/{item_id}", "404"),
        ("GET", "/items/nine", "/items/{item_id}", "422"),
        ("DELETE", "/items/1", "/items/{item_id}", "405"),
        ("GET", "/items/export", "/items/export", "200"),
        ("GET", "/nowhere/42", None, "404"),
        ("GET", "/probe/status/503", "/probe/status/{code}", "503"),
    ],
)
async def test_labels(
    exercise: ModuleType, app: FastAPI, method: str, path: str, route: str | None, status: str
) -> None:
    route = route or exercise.UNMATCHED
    async with running(app) as (client, state):
        await client.request(method, path)
        found = counts(registry_of(state))
        seen = observations(registry_of(state))
    expected = {f"{method} {route} {status}": 1.0}
    wrong_route = any(key.split(" ")[1] != route for key in found)
    expect_equal(
        f"counts after {method} {path}",
        expected,
        found,
        help=ONCE if not found else ROUTE if wrong_route else STATUS,
    )
    expect_equal(
        f"observations after {method} {path}", {f"{method} {route}": 1.0}, seen, help=ROUTE
    )


@pytest.mark.stub_may_pass("the constant is given")
def test_the_unmatched_constant(exercise: ModuleType) -> None:
    expect_equal("UNMATCHED", "<unmatched>", exercise.UNMATCHED)


async def test_many_ids_are_one_series(app: FastAPI) -> None:
    async with running(app) as (client, state):
        for item_id in range(1, 201):
            await client.get(f"/items/{item_id}")
        found = counts(registry_of(state))
    expected = {"GET /items/{item_id} 200": 2.0, "GET /items/{item_id} 404": 198.0}
    expect_equal("counts after 200 different ids", expected, found, help=ROUTE)


async def test_an_unhandled_error_is_counted_as_500(app: FastAPI) -> None:
    async with running(app) as (_, state):
        exchange = RawExchange("/boom")
        exchange.scope["state"] = dict(state)
        with anyio.fail_after(HANG_GUARD):
            await exchange.run(app)
        found = counts(registry_of(state))
        seen = observations(registry_of(state))
    expect(
        isinstance(exchange.raised, RuntimeError),
        f"expected the RuntimeError to reach the server, not {exchange.raised!r}",
        help="Is the exception raised again after it is counted?",
    )
    expect_equal("counts after GET /boom", {"GET /boom 500": 1.0}, found, help=STATUS)
    expect_equal("observations after GET /boom", {"GET /boom": 1.0}, seen, help=ONCE)


async def test_two_apps_count_apart(exercise: ModuleType, clock: Clock) -> None:
    first, second = exercise.create_app(clock=clock), exercise.create_app(clock=clock)
    async with running(first) as (one, first_state), running(second) as (two, second_state):
        first_registry, second_registry = registry_of(first_state), registry_of(second_state)
        expect(
            first_registry is not second_registry,
            "expected each app to have its own registry",
            help=REGISTRY,
        )
        await one.get("/items/1")
        await one.get("/items/1")
        await two.get("/items/2")
        expect_equal(
            "counts of the first app",
            {"GET /items/{item_id} 200": 2.0},
            counts(first_registry),
            help=REGISTRY,
        )
        expect_equal(
            "counts of the second app",
            {"GET /items/{item_id} 200": 1.0},
            counts(second_registry),
            help=REGISTRY,
        )


async def test_each_startup_starts_from_zero(app: FastAPI) -> None:
    async with running(app) as (client, state):
        await client.get("/items/1")
        first = registry_of(state)
        expect_equal(
            "counts before the restart", {"GET /items/{item_id} 200": 1.0}, counts(first), help=ONCE
        )
    async with running(app) as (client, state):
        second = registry_of(state)
        expect(second is not first, "expected a new registry for each startup", help=REGISTRY)
        expect_equal("counts after a restart", {}, counts(second), help=REGISTRY)


async def test_buckets_and_durations(app: FastAPI) -> None:
    async with running(app) as (client, state):
        await client.get("/probe/wait/0.25")
        await client.get("/probe/wait/0.3")
        registry = registry_of(state)
    labels = {"method": "GET", "route": "/probe/wait/{seconds}"}
    buckets = {
        dict(key)["le"]: value
        for key, value in series(registry, DURATIONS + "_bucket").items()
        if dict(key).get("route") == labels["route"]
    }
    expect_equal(
        "bucket bounds",
        EXPECTED_BUCKETS,
        list(buckets),
        help="Is the histogram made with buckets=BUCKETS?",
    )
    expected = {"0.1": 0.0, "0.25": 1.0, "0.5": 2.0, "+Inf": 2.0}
    expect_equal(
        "cumulative bucket counts",
        expected,
        {bound: buckets[bound] for bound in expected},
        help=DURATION,
    )
    total = registry.get_sample_value(DURATIONS + "_sum", labels)
    expect(
        total is not None and abs(total - 0.55) < 1e-9,
        f"expected a sum of 0.55 seconds, not {total}",
        help=DURATION,
    )


async def test_a_stream_is_timed_to_its_last_byte(app: FastAPI) -> None:
    async with running(app) as (client, state):
        response = await client.get("/probe/stream")
        registry = registry_of(state)
    expect_equal("body", "first\nsecond\n", response.text)
    labels = {"method": "GET", "route": "/probe/stream"}
    expect_equal(
        "duration sum", 0.75, registry.get_sample_value(DURATIONS + "_sum", labels), help=DURATION
    )


async def test_the_metrics_endpoint(app: FastAPI) -> None:
    async with running(app) as (client, state):
        await client.get("/items/1")
        await client.get("/nowhere")
        first = await client.get("/metrics")
        second = await client.get("/metrics")
        found = counts(registry_of(state))
    expect_equal("status of GET /metrics", 200, first.status_code, help=EXPOSITION)
    expect_equal(
        "content-type", CONTENT_TYPE_LATEST, first.headers.get("content-type"), help=EXPOSITION
    )
    families = {family.name: family for family in text_string_to_metric_families(first.text)}
    expect_equal(
        "metric types",
        {"http_requests": "counter", DURATIONS: "histogram"},
        {
            name: family.type
            for name, family in families.items()
            if name in ("http_requests", DURATIONS)
        },
        help=EXPOSITION,
    )
    exposed = {
        f"{s.labels['method']} {s.labels['route']} {s.labels['status']}": s.value
        for s in families["http_requests"].samples
        if s.name == REQUESTS
    }
    expected = {"GET /items/{item_id} 200": 1.0, "GET <unmatched> 404": 1.0}
    expect_equal("counts in GET /metrics", expected, exposed, help=EXPOSITION)
    expect_equal("counts after two GET /metrics", expected, found, help=EXPOSITION)
    expect(
        "http_requests_total" in second.text, "expected the counter in the second GET /metrics too"
    )


@pytest.mark.stub_may_pass("the defaults are given")
def test_the_default_clock_is_monotonic(exercise: ModuleType) -> None:
    default = inspect.signature(exercise.create_app).parameters["clock"].default
    expect(
        default is time.perf_counter,
        f"expected create_app's clock to default to time.perf_counter, not {default!r}",
        help="Durations need a monotonic clock: the wall clock can jump.",
    )
