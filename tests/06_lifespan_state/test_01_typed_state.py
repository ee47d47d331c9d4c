"""Hidden suite for 06_lifespan_state/01_typed_state: state from the lifespan.

The upstream quotes service is an httpx.MockTransport handed to `create_app`. Requests go
through `client_for`, which serves them as a real server (Uvicorn, Hypercorn, Starlette's
TestClient) does: each request gets its own shallow copy of the lifespan state, so a value
assigned to `request.state` is gone by the next request. The client a request gets is
seen through a probe route that depends on the real `get_http`.
"""

import importlib.util
import sys
import typing
import weakref
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from workbook.testing import (
    AppStartError,
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_keys,
    expect_status,
)

QUOTES_URL = "http://quotes.test"
QUOTE = {"text": "Simple is better than complex."}
PROBE = "/probe/state"
SEEN_CLIENTS: "weakref.WeakKeyDictionary[FastAPI, list[Any]]" = weakref.WeakKeyDictionary()

IMPORT_HELP = (
    "Is an httpx.AsyncClient made when the module is imported, or when create_app() runs? "
    "Open it inside the lifespan, with async with around the yield."
)
STATE_HELP = (
    "Does the lifespan yield its state as a dict with the keys settings, http and stats? "
    "Starlette copies what the lifespan yields into every request's state."
)
TRANSPORT_HELP = (
    "Is the client opened with base_url=settings.quotes_url and the transport given to "
    "create_app? Without it the request leaves for the real network."
)
PER_APP_HELP = (
    "Do two apps from create_app() share a module-level object? Everything a request uses "
    "comes from its own app's lifespan."
)
RESTART_HELP = (
    "Is something made once, outside the lifespan, and reused at the next start? Each run "
    "of the lifespan makes its own client and its own Stats."
)
COPY_HELP = (
    "Do you count by assigning to request.state (request.state.x = ... or +=)? A server "
    "gives each request a copy of the lifespan state, so the assignment is lost with the "
    "request. Mutate one shared object instead: a Stats made by the lifespan."
)
BASE_URL_HELP = (
    "Is the client opened with base_url=settings.quotes_url? Then routes ask for paths such "
    "as /random, and every request of the app goes to the service its settings name."
)
DEFAULT_HELP = (
    "Does create_app use Settings() when it gets None, whether None is passed or left out? "
    "Test `settings is None` inside create_app; keep `None` as the parameter's default."
)
CLOSE_HELP = (
    "Is the client closed when the app shuts down? Open it with async with around the "
    "lifespan's yield."
)


def serve(app: FastAPI) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """Start the app (lifespan included); an error escaping a route is the client's 500."""
    return client_for(app, raise_app_exceptions=False)


class Upstream:
    """The quotes service: answers every request with QUOTE and remembers the URLs."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return httpx.Response(200, json=QUOTE)


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


def make_app(exercise: ModuleType, upstream: Upstream, **settings: str) -> FastAPI:
    """An app from create_app with the checks' upstream and a probe of its state."""
    chosen = exercise.Settings(**{"quotes_url": QUOTES_URL, **settings})
    app = exercise.create_app(chosen, transport=upstream.transport)
    add_probe(exercise, app)
    return app


def add_probe(exercise: ModuleType, app: FastAPI) -> None:
    """GET /probe/state: the keys of the request's state and the client get_http hands out."""
    seen = SEEN_CLIENTS.setdefault(app, [])

    async def probe(
        request: Request, http: Annotated[object, Depends(exercise.get_http)]
    ) -> dict[str, Any]:
        seen.append(http)
        is_open = isinstance(http, httpx.AsyncClient) and not http.is_closed
        return {"state": sorted(request.scope.get("state", {})), "client open": is_open}

    app.add_api_route(PROBE, probe, methods=["GET"])


async def client_seen(app: FastAPI, client: httpx.AsyncClient) -> Any:
    """The client get_http hands to one request, which must find it open."""
    response = await client.get(PROBE)
    expect_status(response, 200)
    expect_equal("an open httpx.AsyncClient from get_http", True, response.json()["client open"])
    return SEEN_CLIENTS[app][-1]


async def served(client: httpx.AsyncClient) -> Any:
    response = await client.get("/stats")
    expect_status(response, 200)
    return response.json()


def import_counting_clients(path: Path) -> int:
    """Import the file again, fresh, and count the httpx.AsyncClient objects it makes."""
    made: list[object] = []
    real = httpx.AsyncClient

    class CountingClient(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(self)
            super().__init__(*args, **kwargs)

    name = f"_typed_state_import_check_{id(made)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    httpx.AsyncClient = CountingClient  # type: ignore[misc]
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        httpx.AsyncClient = real  # type: ignore[misc]
        del sys.modules[name]
    return len(made)


def test_nothing_opened_at_import(exercise: ModuleType) -> None:
    """importing the module (which makes `app`) opens no httpx.AsyncClient"""
    made = import_counting_clients(Path(exercise.__file__))
    expect_equal("httpx.AsyncClient objects made at import", 0, made, help=IMPORT_HELP)


def test_state_is_a_typed_dict(exercise: ModuleType) -> None:
    """State is a TypedDict of settings: Settings, http: httpx.AsyncClient, stats: Stats"""
    state = exercise.State
    expect(typing.is_typeddict(state), f"expected State to be a TypedDict, not {state!r}")
    names = {
        exercise.Settings: "Settings",
        exercise.Stats: "Stats",
        httpx.AsyncClient: "httpx.AsyncClient",
    }
    fields = {
        field: names.get(kind, getattr(kind, "__name__", repr(kind)))
        for field, kind in typing.get_type_hints(state).items()
    }
    expected = {"settings": "Settings", "http": "httpx.AsyncClient", "stats": "Stats"}
    expect_equal("State's fields", expected, fields)


async def test_lifespan_yields_the_state(exercise: ModuleType, upstream: Upstream) -> None:
    """the lifespan yields settings, http and stats: every request's state has those keys"""
    app = make_app(exercise, upstream)
    async with serve(app) as client:
        response = await client.get(PROBE)
    expect_status(response, 200, help=STATE_HELP)
    keys = response.json()["state"]
    expect_keys("the request's state", {"settings", "http", "stats"}, dict.fromkeys(keys))


async def test_quote_through_the_client(exercise: ModuleType, upstream: Upstream) -> None:
    """GET /quote asks <quotes_url>/random through the app's client and answers its text"""
    app = make_app(exercise, upstream, service_name="wisdom")
    async with serve(app) as client:
        response = await client.get("/quote")
    expect_status(response, 200, help=TRANSPORT_HELP)
    expect_json(response, {"text": QUOTE["text"], "service": "wisdom"})
    expect_equal("upstream requests", [f"{QUOTES_URL}/random"], upstream.urls)


async def test_client_has_the_base_url(exercise: ModuleType, upstream: Upstream) -> None:
    """the app's client is opened with base_url=settings.quotes_url"""
    app = make_app(exercise, upstream)
    async with serve(app) as client:
        http = await client_seen(app, client)
    base_url = str(http.base_url).rstrip("/")
    expect_equal("the client's base_url", QUOTES_URL, base_url, help=BASE_URL_HELP)


DEFAULTED = {"no settings": (), "settings=None": (None,)}


@pytest.mark.parametrize("given", DEFAULTED)
async def test_default_settings(exercise: ModuleType, upstream: Upstream, given: str) -> None:
    """create_app() with {given} uses Settings(): http://quotes.internal and "quotes\""""
    app = exercise.create_app(*DEFAULTED[given], transport=upstream.transport)
    try:
        async with serve(app) as client:
            response = await client.get("/quote")
    except AppStartError as exc:
        if not DEFAULTED[given]:
            raise
        message = f"expected the app of create_app(None) to start, but it raised {exc}"
        raise Failure(message, help=DEFAULT_HELP) from None
    expect_status(response, 200, help=DEFAULT_HELP if DEFAULTED[given] else TRANSPORT_HELP)
    expect_json(response, {"text": QUOTE["text"], "service": "quotes"})
    expect_equal("upstream requests", ["http://quotes.internal/random"], upstream.urls)


async def test_each_app_its_own_settings(exercise: ModuleType, upstream: Upstream) -> None:
    """two apps running at once each answer with the settings given to their create_app"""
    first = make_app(exercise, upstream, service_name="first")
    second = make_app(exercise, upstream, service_name="second", quotes_url="http://other.test")
    async with serve(first) as one, serve(second) as two:
        answers = [await one.get("/quote"), await two.get("/quote")]
    for response in answers:
        expect_status(response, 200, help=TRANSPORT_HELP)
    services = [response.json().get("service") for response in answers]
    expect_equal("services named", ["first", "second"], services, help=PER_APP_HELP)
    urls = [f"{QUOTES_URL}/random", "http://other.test/random"]
    expect_equal("upstream requests", urls, upstream.urls, help=PER_APP_HELP)


async def test_one_client_per_app(exercise: ModuleType, upstream: Upstream) -> None:
    """every request of an app gets the same client; two apps have two clients"""
    first, second = make_app(exercise, upstream), make_app(exercise, upstream)
    async with serve(first) as one, serve(second) as two:
        a1, a2 = await client_seen(first, one), await client_seen(first, one)
        b1 = await client_seen(second, two)
    expect(a1 is a2, "expected one client for both requests of an app, not two")
    expect(
        a1 is not b1, "expected each app to have its own client, not one shared", help=PER_APP_HELP
    )


async def test_client_closed_at_shutdown(exercise: ModuleType, upstream: Upstream) -> None:
    """the client is open while the app serves and closed when it shuts down"""
    app = make_app(exercise, upstream)
    async with serve(app) as client:
        http = await client_seen(app, client)
    expect_equal("client closed after shutdown", True, http.is_closed, help=CLOSE_HELP)


async def test_fresh_client_at_each_start(exercise: ModuleType, upstream: Upstream) -> None:
    """an app started a second time opens a new client: the first one stays closed"""
    app = make_app(exercise, upstream)
    async with serve(app) as client:
        first = await client_seen(app, client)
    async with serve(app) as client:
        second = await client_seen(app, client)
    expect(second is not first, "expected a new client at the second start", help=RESTART_HELP)


async def test_stats_count_across_requests(exercise: ModuleType, upstream: Upstream) -> None:
    """GET /stats counts the quotes served since the app started, across requests"""
    app = make_app(exercise, upstream)
    async with serve(app) as client:
        before = await served(client)
        for _ in range(3):
            expect_status(await client.get("/quote"), 200, help=TRANSPORT_HELP)
        after = await served(client)
    expect_equal("/stats before any quote", {"quotes_served": 0}, before)
    expect_equal("/stats after three quotes", {"quotes_served": 3}, after, help=COPY_HELP)


async def test_stats_only_count_quotes(exercise: ModuleType, upstream: Upstream) -> None:
    """reading /stats counts nothing: only GET /quote does"""
    app = make_app(exercise, upstream)
    async with serve(app) as client:
        expect_status(await client.get("/quote"), 200, help=TRANSPORT_HELP)
        for _ in range(2):
            await served(client)
        after = await served(client)
    expect_equal("/stats after one quote", {"quotes_served": 1}, after)


async def test_stats_per_app(exercise: ModuleType, upstream: Upstream) -> None:
    """two apps count their own quotes"""
    first, second = make_app(exercise, upstream), make_app(exercise, upstream)
    async with serve(first) as one, serve(second) as two:
        for client, quotes in ((one, 2), (two, 1)):
            for _ in range(quotes):
                expect_status(await client.get("/quote"), 200, help=TRANSPORT_HELP)
        counts = [await served(one), await served(two)]
    expected = [{"quotes_served": 2}, {"quotes_served": 1}]
    expect_equal("/stats of the two apps", expected, counts, help=PER_APP_HELP)


async def test_stats_restart_at_zero(exercise: ModuleType, upstream: Upstream) -> None:
    """an app started a second time counts from 0 again"""
    app = make_app(exercise, upstream)
    async with serve(app) as client:
        expect_status(await client.get("/quote"), 200, help=TRANSPORT_HELP)
    async with serve(app) as client:
        again = await served(client)
    expect_equal("/stats after a restart", {"quotes_served": 0}, again, help=RESTART_HELP)
