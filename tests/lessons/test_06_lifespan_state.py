"""Every snippet of lessons/06-lifespan-state.md runs and does what the page says."""

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import FastAPIError
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from workbook.loader import load_copy
from workbook.testing import client_for

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "06-lifespan-state.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "06_lifespan_state"
TESTED = {
    "globals_at_import.py",
    "typed_state.py",
    "per_request.py",
    "registry.py",
    "failing_apps.py",
    "compose.py",
    "legacy_events.py",
    "migrated.py",
    "no_on_event.py",
    "harness.py",
}


def fresh(filename: str) -> ModuleType:
    """A new copy of a snippet, so that its module-level logs and counters start empty."""
    return load_copy(SNIPPETS / filename)


def legacy() -> ModuleType:
    """legacy_events.py, whose import warns on purpose."""
    with pytest.warns(DeprecationWarning, match="on_event is deprecated"):
        return fresh("legacy_events.py")


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "06_lifespan_state/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


# -- the lifespan protocol, as a server drives it ------------------------------------------


async def drive_lifespan(app: Any, scope_state: bool = True) -> tuple[list[dict], dict]:
    """Play the server's part: start-up, then shutdown; return what the app sent."""
    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}}
    if scope_state:
        scope["state"] = {}
    sent: list[dict] = []
    inbox = [{"type": "lifespan.shutdown"}, {"type": "lifespan.startup"}]
    states: list[dict] = []

    async def receive() -> dict:
        if len(inbox) == 1:  # start-up is done: what would the requests get?
            states.append(dict(scope.get("state", {})))
        return inbox.pop()

    async def send(message: dict) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    except Exception as exc:  # Starlette re-raises after reporting the failure
        sent.append({"raised": exc})
    return sent, (states[0] if states else {})


async def test_a_server_sees_startup_complete_then_shutdown_complete() -> None:
    module = fresh("typed_state.py")
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    sent, state = await drive_lifespan(module.create_app(transport))
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert sorted(state) == ["http", "settings"]
    assert state["http"].is_closed  # closed by the time shutdown completed


async def test_a_failed_startup_is_reported_then_raised() -> None:
    module = fresh("registry.py")
    app = module.create_app(module.Resource("db"), module.Resource("cache", fail_open=True))
    sent, _ = await drive_lifespan(app)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "StartupError: could not open cache: cache is unreachable" in sent[0]["message"]
    assert isinstance(sent[1]["raised"], module.StartupError)


async def test_a_failed_shutdown_is_reported_then_raised() -> None:
    module = fresh("registry.py")
    app = module.create_app(module.Resource("db"), module.Resource("cache", fail_close=True))
    sent, _ = await drive_lifespan(app)
    assert [message.get("type") for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.failed",
        None,
    ]
    assert "RuntimeError: cache did not close cleanly" in sent[1]["message"]
    assert str(sent[2]["raised"]) == "cache did not close cleanly"
    assert module.log == ["open db", "open cache", "close cache", "close db"]


async def test_state_needs_a_server_that_offers_it() -> None:
    module = fresh("typed_state.py")
    sent, _ = await drive_lifespan(module.create_app(), scope_state=False)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert 'The server does not support "state" in the lifespan scope.' in sent[0]["message"]


# -- globals_at_import.py and typed_state.py: resources from the lifespan ------------------


class CountedClient(httpx.AsyncClient):
    made: int = 0

    def __init__(self, **kwargs: Any) -> None:
        CountedClient.made += 1
        super().__init__(**kwargs)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[CountedClient]:
    CountedClient.made = 0
    monkeypatch.setattr(httpx, "AsyncClient", CountedClient)
    return CountedClient


def weather_upstream(seen: list[str]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"temperature": 21})

    return httpx.MockTransport(answer)


async def test_a_global_client_is_built_at_import_and_never_closed(
    counted: type[CountedClient],
) -> None:
    module = fresh("globals_at_import.py")
    assert counted.made == 1  # nothing has started yet
    async with LifespanManager(module.app):
        pass
    assert not module.http.is_closed  # the app started and stopped: the client is still open
    fresh("globals_at_import.py")
    assert counted.made == 2  # every import builds one, tests and tools included
    await module.http.aclose()


async def test_the_lifespan_builds_the_client_at_startup_only(
    counted: type[CountedClient],
) -> None:
    module = fresh("typed_state.py")
    assert counted.made == 0  # `app = create_app()` at import opened nothing
    first, second = module.create_app(), module.create_app()
    async with (
        first.router.lifespan_context(first) as one,
        second.router.lifespan_context(second) as two,
    ):
        assert counted.made == 2
        assert one["http"] is not two["http"]  # each app, its own client
        assert not one["http"].is_closed
    assert one["http"].is_closed
    assert two["http"].is_closed


async def test_routes_get_the_lifespan_resources_through_dependencies() -> None:
    module = fresh("typed_state.py")
    seen: list[str] = []
    async with client_for(module.create_app(weather_upstream(seen))) as client:
        response = await client.get("/weather/paris")
    assert response.json() == {"city": "paris", "units": "metric", "temperature": 21}
    assert seen == ["https://weather.example/now/paris?units=metric"]


async def test_a_test_can_override_a_state_dependency() -> None:
    module = fresh("typed_state.py")
    app = module.create_app(weather_upstream([]))
    fake: list[str] = []
    app.dependency_overrides[module.get_http] = lambda: httpx.AsyncClient(
        base_url="https://fake.example", transport=weather_upstream(fake)
    )
    async with client_for(app) as client:
        assert (await client.get("/weather/oslo")).status_code == 200
    assert fake == ["https://fake.example/now/oslo?units=metric"]


async def without_lifespan(app: FastAPI, method: str, url: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # sends no lifespan events
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, url)


async def test_without_the_lifespan_the_state_is_empty() -> None:
    weather = fresh("typed_state.py").create_app(weather_upstream([]))
    visits = fresh("per_request.py").create_app()
    with pytest.raises(KeyError, match="http"):
        await without_lifespan(weather, "GET", "/weather/paris")
    with pytest.raises(AttributeError, match="'State' object has no attribute 'mode'"):
        await without_lifespan(visits, "POST", "/visits?user=ada")


async def test_app_state_outlives_a_run_of_the_lifespan() -> None:
    app = FastAPI()

    @app.post("/calls")
    async def count(request: Request) -> int:
        request.app.state.calls = getattr(request.app.state, "calls", 0) + 1
        return request.app.state.calls

    async with client_for(app) as first_test:
        assert (await first_test.post("/calls")).json() == 1
    async with client_for(app) as second_test:  # a new lifespan run, the same app
        assert (await second_test.post("/calls")).json() == 2


def test_fastapi_refuses_starlettes_generic_request() -> None:
    module = fresh("typed_state.py")
    app = FastAPI()
    with pytest.raises(FastAPIError, match="Invalid args for response field"):

        @app.get("/typed")
        async def typed(request: Request[module.AppState]) -> str:  # type: ignore[type-arg]
            return "never declared"


# -- per_request.py: a shallow copy for each request ----------------------------------------

FIRST = {"seen": {"user": None, "mode": "live"}, "visitors": ["ada"]}
COPIED = {"seen": {"user": None, "mode": "live"}, "visitors": ["ada", "bob"]}
SHARED = {"seen": {"user": "ada", "mode": "maintenance"}, "visitors": ["ada", "bob"]}


@contextmanager
def uvicorn(target: str) -> Iterator[tuple[httpx.Client, list[str]]]:
    """Serve `target` with a real Uvicorn on a Unix socket; yield a client and its log."""
    with tempfile.TemporaryDirectory() as folder:
        socket = Path(folder) / "app.sock"
        command = [sys.executable, "-m", "uvicorn", target, "--uds", str(socket)]
        env = {**os.environ, "PYTHONPATH": str(SNIPPETS)}
        process = subprocess.Popen(
            command, cwd=SNIPPETS, env=env, stderr=subprocess.PIPE, text=True
        )
        assert process.stderr is not None
        lines: list[str] = []
        for line in process.stderr:  # wait until it listens, or has exited
            lines.append(line.rstrip())
            if "Uvicorn running on" in line:
                break
        try:
            transport = httpx.HTTPTransport(uds=str(socket))
            with httpx.Client(transport=transport, base_url="http://uvicorn") as client:
                yield client, lines
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            rest = process.communicate(timeout=20)[1]
            lines += rest.splitlines()
            lines.append(f"exit code {process.returncode}")


def test_uvicorn_gives_each_request_a_shallow_copy() -> None:
    with uvicorn("per_request:app") as (client, log):
        first = client.post("/visits", params={"user": "ada"}).json()
        second = client.post("/visits", params={"user": "bob"}).json()
    assert (first, second) == (FIRST, COPIED)
    assert log[-1] == "exit code 0"
    order = [
        "Waiting for application startup.",
        "Application startup complete.",
        "Uvicorn running on",  # it listens only once the start-up is complete
        "Shutting down",
        "Waiting for application shutdown.",
        "Application shutdown complete.",
    ]
    found = [next(n for n, line in enumerate(log) if step in line) for step in order]
    assert found == sorted(found), log


def test_testclient_gives_each_request_a_shallow_copy() -> None:
    module = fresh("per_request.py")
    with TestClient(module.create_app()) as client:
        first = client.post("/visits", params={"user": "ada"}).json()
        second = client.post("/visits", params={"user": "bob"}).json()
    assert (first, second) == (FIRST, COPIED)


async def test_lifespan_manager_hands_every_request_the_same_dict() -> None:
    module = fresh("per_request.py")
    async with LifespanManager(module.create_app()) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = (await client.post("/visits", params={"user": "ada"})).json()
            second = (await client.post("/visits", params={"user": "bob"})).json()
    assert (first, second) == (FIRST, SHARED)


# -- registry.py and failing_apps.py: opening and closing in order -----------------------


def registry(**failures: dict[str, bool]) -> tuple[ModuleType, FastAPI]:
    module = fresh("registry.py")
    names = ("db", "cache", "client")
    resources = [module.Resource(name, **failures.get(name, {})) for name in names]
    return module, module.create_app(*resources)


async def test_resources_open_in_order_and_close_in_reverse() -> None:
    module, app = registry()
    async with client_for(app):
        module.log.append("serving")
    assert module.log == [
        "open db",
        "open cache",
        "open client",
        "serving",
        "close client",
        "close cache",
        "close db",
    ]


async def test_a_failing_close_does_not_stop_the_others() -> None:
    module, app = registry(cache={"fail_close": True})
    with pytest.raises(RuntimeError, match="cache did not close cleanly"):
        async with LifespanManager(app):
            pass
    assert module.log[-3:] == ["close client", "close cache", "close db"]


async def test_the_first_opened_failure_surfaces_and_the_stack_drops_the_other() -> None:
    module, app = registry(db={"fail_close": True}, cache={"fail_close": True})
    with pytest.raises(RuntimeError, match="db did not close cleanly") as raised:
        async with LifespanManager(app):
            pass
    assert module.log[-3:] == ["close client", "close cache", "close db"]
    assert raised.value.__context__ is None  # "cache did not close cleanly" is lost


async def test_nested_async_with_keeps_both_failures() -> None:
    module = fresh("registry.py")
    db = module.Resource("db", fail_close=True)
    cache = module.Resource("cache", fail_close=True)
    with pytest.raises(RuntimeError, match="db did not close cleanly") as raised:
        async with db, cache:
            pass
    assert str(raised.value.__context__) == "cache did not close cleanly"


async def test_a_startup_failure_closes_what_was_opened_and_names_the_resource() -> None:
    module, app = registry(cache={"fail_open": True})
    with pytest.raises(module.StartupError, match="could not open cache: cache is unreachable"):
        async with LifespanManager(app):
            pytest.fail("the app served")
    assert module.log == ["open db", "close db"]


async def test_a_startup_failure_raises_the_original_exception_class() -> None:
    module, app = registry(cache={"fail_open": True})
    with pytest.raises(module.StartupError) as raised:
        async with LifespanManager(app):
            pass
    assert type(raised.value) is module.StartupError  # not wrapped by the harness
    assert isinstance(raised.value.__cause__, ConnectionError)


def test_uvicorn_exits_with_status_3_when_startup_fails() -> None:
    with uvicorn("failing_apps:startup_fails") as (_, log):
        pass
    shown = [
        "INFO:     Waiting for application startup.",
        "ERROR:    Traceback (most recent call last):",
        "ConnectionError: cache is unreachable",
        "The above exception was the direct cause of the following exception:",
        "registry.StartupError: could not open cache: cache is unreachable",
        "ERROR:    Application startup failed. Exiting.",
    ]
    assert [line for line in log if line in shown] == shown, log
    assert not any("Uvicorn running on" in line for line in log)
    assert log[-1] == "exit code 3"


def test_uvicorn_logs_a_failed_shutdown_and_exits_with_status_0() -> None:
    with uvicorn("failing_apps:close_fails") as (client, log):
        assert client.get("/docs").status_code == 200
    shown = [
        "INFO:     Shutting down",
        "INFO:     Waiting for application shutdown.",
        "ERROR:    Traceback (most recent call last):",
        "RuntimeError: cache did not close cleanly",
        "ERROR:    Application shutdown failed. Exiting.",
    ]
    assert [line for line in log if line in shown] == shown, log
    assert any(line.startswith("INFO:     Finished server process [") for line in log)
    assert log[-1] == "exit code 0"


async def test_lifespan_manager_gives_up_on_a_startup_that_hangs() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.Event().wait()  # never set
        yield

    with pytest.raises(TimeoutError):
        async with LifespanManager(FastAPI(lifespan=lifespan), startup_timeout=0.01):
            pass


# -- compose.py: two lifespans, one app -----------------------------------------------------


async def test_a_library_lifespan_composed_by_hand() -> None:
    module = fresh("compose.py")
    async with module.app.router.lifespan_context(module.app) as state:
        assert sorted(state) == ["db", "metrics", "service"]
        assert state["service"] == "metrics"
    assert module.log == ["metrics: start", "db: open", "db: close", "metrics: stop"]


async def test_include_router_merges_the_router_lifespan() -> None:
    module = fresh("compose.py")
    async with client_for(module.routed) as client:
        answer = (await client.get("/service")).json()
    assert answer == {"service": "orders", "keys": ["db", "metrics", "service"]}  # app wins
    assert module.log == ["db: open", "metrics: start", "metrics: stop", "db: close"]


async def test_a_mounted_app_lifespan_never_runs() -> None:
    module = fresh("compose.py")
    parent = FastAPI()
    parent.mount("/orders", module.routed)
    async with client_for(parent):
        pass
    assert module.log == []


def lifespan_named(name: str, log: list[str]) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, int]]:
        log.append(f"{name} start")
        yield {name: 1}
        log.append(f"{name} stop")

    return lifespan


@pytest.mark.parametrize(
    ("inner_first", "expected"),
    [
        (True, ["app start", "outer start", "inner start", "inner stop", "outer stop", "app stop"]),
        (False, ["app start", "outer start", "outer stop", "app stop"]),
    ],
)
async def test_a_sub_router_lifespan_runs_only_if_included_first(
    inner_first: bool, expected: list[str]
) -> None:
    log: list[str] = []
    inner = APIRouter(lifespan=lifespan_named("inner", log))
    outer = APIRouter(lifespan=lifespan_named("outer", log))
    app = FastAPI(lifespan=lifespan_named("app", log))
    if inner_first:
        outer.include_router(inner)
        app.include_router(outer)
    else:
        app.include_router(outer)
        outer.include_router(inner)
    async with client_for(app):
        pass
    assert log == expected


async def test_a_router_included_twice_runs_its_lifespan_twice() -> None:
    log: list[str] = []
    router = APIRouter(lifespan=lifespan_named("router", log))
    app = FastAPI()
    app.include_router(router, prefix="/v1")
    app.include_router(router, prefix="/v2")
    async with client_for(app):
        pass
    assert log == ["router start", "router start", "router stop", "router stop"]


# -- legacy_events.py, migrated.py, no_on_event.py: from on_event to a lifespan ------------


def test_starlette_1_has_no_event_api() -> None:
    with pytest.raises(TypeError, match="on_startup"):
        Starlette(on_startup=[])  # type: ignore[call-arg]
    assert not hasattr(Starlette(), "on_event")
    assert not hasattr(Starlette(), "add_event_handler")


def test_on_event_warns_when_the_module_is_imported() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DeprecationWarning, match="on_event is deprecated"):
            fresh("legacy_events.py")


async def test_event_handlers_run_in_registration_order() -> None:
    module = legacy()
    async with client_for(module.app) as client:
        assert (await client.get("/db")).json() == "a connection"
        module.log.append("serving")
    assert module.log == ["open db", "open cache", "serving", "close db", "close cache"]


async def test_the_migrated_lifespan_closes_in_reverse() -> None:
    module = fresh("migrated.py")
    async with client_for(module.app) as client:
        assert (await client.get("/db")).json() == "a connection"
        module.log.append("serving")
    assert module.log == ["open db", "open cache", "serving", "close cache", "close db"]


async def test_event_handlers_are_ignored_next_to_a_lifespan() -> None:
    log: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.append("lifespan")
        yield

    app = FastAPI(lifespan=lifespan)
    with pytest.warns(DeprecationWarning, match="on_event is deprecated"):

        @app.on_event("startup")
        async def never() -> None:
            log.append("on_event")

    async with client_for(app):
        pass
    assert log == ["lifespan"]


async def test_a_routers_event_handlers_run_twice() -> None:
    log: list[str] = []
    router = APIRouter()
    with pytest.warns(DeprecationWarning, match="on_event is deprecated"):

        @router.on_event("startup")
        async def warm_up() -> None:
            log.append("warm up")

    app = FastAPI()
    app.include_router(router)
    async with client_for(app):
        pass
    assert log == ["warm up", "warm up"]


def test_fastapi_wraps_a_bare_generator_lifespan_silently_starlette_warns() -> None:
    async def bare(app: Any) -> AsyncIterator[None]:
        yield

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FastAPI(lifespan=bare)
        with pytest.raises(StarletteDeprecationWarning, match="async generator function"):
            Starlette(lifespan=bare)
    assert issubclass(StarletteDeprecationWarning, UserWarning)


def test_the_static_check_finds_every_use_of_the_event_api() -> None:
    check = fresh("no_on_event.py")
    assert check.event_handlers((SNIPPETS / "legacy_events.py").read_text()) == [
        (9, ".on_event"),
        (15, ".on_event"),
        (20, ".on_event"),
        (25, ".on_event"),
    ]
    assert check.event_handlers((SNIPPETS / "migrated.py").read_text()) == []
    other_forms = (
        "app = FastAPI(on_startup=[connect], on_shutdown=[disconnect])\n"
        "app.add_event_handler('startup', connect)\n"
        "app.router.on_event('shutdown')(disconnect)\n"
    )
    assert check.event_handlers(other_forms) == [
        (1, "on_shutdown="),
        (1, "on_startup="),
        (2, ".add_event_handler"),
        (3, ".on_event"),
    ]
    mentions = '"""No app.on_event here."""\n# nor on_startup= in a comment\n'
    assert check.event_handlers(mentions) == []


def test_the_static_check_fails_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    check = fresh("no_on_event.py")
    assert check.main([str(SNIPPETS / "migrated.py")]) == 0
    assert check.main([str(SNIPPETS / "legacy_events.py")]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith(
        "legacy_events.py:9: .on_event belongs to the removed event API: use a lifespan"
    )
    assert len(printed) == 4


# -- harness.py: a lifespan-aware test harness ----------------------------------------------


def run_pytest(*files: Path, cwd: Path) -> str:
    command = [sys.executable, "-m", "pytest", *map(str, files), "-q", "-p", "no:cacheprovider"]
    command += ["-p", "asyncio", "-o", "asyncio_mode=auto", "-W", "error"]
    command += ["-o", "asyncio_default_fixture_loop_scope=function", "--rootdir", str(cwd)]
    env = {**os.environ, "PYTHONPATH": str(SNIPPETS), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=60
    )
    return done.stdout


def test_the_harness_tests_pass(tmp_path: Path) -> None:
    output = run_pytest(SNIPPETS / "harness.py", cwd=tmp_path)
    assert re.search(r"\b3 passed\b", output), output


async def test_the_harness_copies_the_state_like_uvicorn() -> None:
    harness = fresh("harness.py")
    module = fresh("per_request.py")
    async with harness.running(module.create_app()) as client:
        first = (await client.post("/visits", params={"user": "ada"})).json()
        second = (await client.post("/visits", params={"user": "bob"})).json()
    assert (first, second) == (FIRST, COPIED)


def bare_yield_app(log: list[str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.append("start-up")
        yield
        log.append("shutdown")  # after a bare yield: runs only on a clean shutdown

    return FastAPI(lifespan=lifespan)


async def test_lifespan_manager_skips_shutdown_when_the_block_raises() -> None:
    log: list[str] = []
    with pytest.raises(AssertionError):
        async with LifespanManager(bare_yield_app(log)):
            raise AssertionError("a failing test")
    assert log == ["start-up"]


async def test_lifespan_manager_still_runs_finally_when_the_block_raises() -> None:
    log: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            log.append("finally")  # the cancellation passes through here

    with pytest.raises(AssertionError):
        async with LifespanManager(FastAPI(lifespan=lifespan)):
            raise AssertionError("a failing test")
    assert log == ["finally"]


async def test_the_harness_shuts_down_even_when_the_test_fails() -> None:
    harness = fresh("harness.py")
    log: list[str] = []
    with pytest.raises(AssertionError):
        async with harness.running(bare_yield_app(log)):
            raise AssertionError("a failing test")
    assert log == ["start-up", "shutdown"]


async def test_the_harness_raises_the_startup_error() -> None:
    harness = fresh("harness.py")
    module, app = registry(cache={"fail_open": True})
    with pytest.raises(module.StartupError, match="could not open cache"):
        async with harness.running(app):
            pytest.fail("the app served")


async def test_a_harness_shared_by_two_tests_shares_their_state() -> None:
    harness = fresh("harness.py")
    module = fresh("per_request.py")
    async with harness.running(module.create_app()) as shared:  # a session-wide fixture
        first_test = (await shared.post("/visits", params={"user": "ada"})).json()
        second_test = (await shared.post("/visits", params={"user": "cy"})).json()
    assert first_test["visitors"] == ["ada"]
    assert second_test["visitors"] == ["ada", "cy"]  # the second test sees the first's visit


def test_testclient_runs_the_lifespan_only_inside_with_and_in_its_own_thread() -> None:
    app = fresh("per_request.py").create_app()

    @app.get("/where")
    async def where() -> str:
        return threading.current_thread().name

    with pytest.raises(AttributeError, match="'State' object has no attribute 'mode'"):
        TestClient(app).post("/visits", params={"user": "ada"})
    with TestClient(app) as client:
        assert client.post("/visits", params={"user": "ada"}).status_code == 200
        thread = client.get("/where").json()
    assert thread != threading.current_thread().name
    assert thread.startswith("asyncio-portal")
    assert issubclass(TestClient, httpx2.Client)


async def test_a_testclient_app_cannot_await_the_tests_event() -> None:
    ready = asyncio.Event()
    waiter = asyncio.create_task(ready.wait())
    await asyncio.sleep(0)  # the test's loop now waits on the event: it is bound to that loop
    app = FastAPI()

    @app.get("/ready")
    async def wait_until_ready() -> str:
        await ready.wait()
        return "ready"

    with (
        TestClient(app) as client,
        pytest.raises(RuntimeError, match="is bound to a different event loop"),
    ):
        client.get("/ready")
    waiter.cancel()


async def test_callbacks_and_context_managers_share_one_stack() -> None:
    module = fresh("registry.py")

    async def close_client() -> None:
        module.log.append("close client")

    async with AsyncExitStack() as stack:
        for name in ("db", "cache"):
            await stack.enter_async_context(module.Resource(name))
        module.log.append("open client")
        stack.push_async_callback(close_client)
    assert module.log == [
        "open db",
        "open cache",
        "open client",
        "close client",
        "close cache",
        "close db",
    ]
