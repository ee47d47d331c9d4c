"""Every snippet of lessons/03-dependency-injection.md runs and does what the page says."""

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, get_args

import anyio
import anyio.lowlevel
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import DependencyScopeError, FastAPIError

from workbook.loader import load_copy
from workbook.testing import client_for

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "lessons" / "03-dependency-injection.md"
SNIPPETS = ROOT / "lessons" / "snippets" / "03_dependency_injection"
TESTED = {
    "aliases.py",
    "roles.py",
    "search_terms.py",
    "checked_search.py",
    "request_cache.py",
    "cache_quirk.py",
    "teardown_order.py",
    "reraise.py",
    "asgi_trace.py",
    "scopes.py",
    "failed_commit.py",
    "guards.py",
    "collected_errors.py",
    "bulkhead.py",
    "override_fixture.py",
}


def fresh(filename: str) -> ModuleType:
    """A new copy of a snippet, so that its module-level logs and counters start empty."""
    return load_copy(SNIPPETS / filename)


TRACE = fresh("asgi_trace.py").trace


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until `condition` holds; the deadline only guards against a hang."""
    with anyio.fail_after(2):
        while not condition():
            await anyio.lowlevel.checkpoint()


async def settle() -> None:
    """Give every waiting task many chances to run (no clock involved)."""
    for _ in range(100):
        await anyio.lowlevel.checkpoint()


def test_every_snippet_is_on_the_page_and_tested() -> None:
    files = {path.name for path in SNIPPETS.glob("*.py")}
    included = set(re.findall(r'--8<-- "03_dependency_injection/(\w+\.py)', LESSON.read_text()))
    assert files == TESTED
    assert files == included


# -- aliases.py: one alias, one Depends object --------------------------------------------


async def test_aliases_resolve_the_whole_graph() -> None:
    app = fresh("aliases.py").app
    async with client_for(app) as client:
        me = await client.get("/me", headers={"x-api-key": "key-ada"})
        team = await client.get("/team", headers={"x-api-key": "key-bob"})
    assert me.json() == {"name": "ada"}
    assert team.json() == {"you": ["bob"], "others": ["ada"]}


async def test_a_sub_dependency_can_refuse_the_request() -> None:
    app = fresh("aliases.py").app
    async with client_for(app) as client:
        unknown = await client.get("/me", headers={"x-api-key": "nope"})
        missing = await client.get("/me")
    assert (unknown.status_code, unknown.json()) == (401, {"detail": "unknown API key"})
    assert missing.status_code == 422
    assert [(e["type"], e["loc"]) for e in missing.json()["detail"]] == [
        ("missing", ["header", "x-api-key"])
    ]


def test_parameters_of_sub_dependencies_are_documented_on_the_route() -> None:
    app = fresh("aliases.py").app
    parameters = app.openapi()["paths"]["/me"]["get"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [
        ("x-api-key", "header", True)
    ]


def test_an_alias_is_a_type_carrying_one_depends_object() -> None:
    module = fresh("aliases.py")
    user_type, depends = get_args(module.CurrentUser)
    assert user_type is module.User
    assert depends.dependency is module.get_current_user


# -- roles.py: callable instances, and overrides keyed by identity ------------------------


async def test_each_instance_checks_its_own_role() -> None:
    app = fresh("roles.py").app
    async with client_for(app) as client:
        nobody = await client.delete("/users/bob")
        admin = await client.delete("/users/bob", headers={"x-roles": "admin"})
        admin_reads_audit = await client.get("/audit-log", headers={"x-roles": "admin"})
        auditor = await client.get("/audit-log", headers={"x-roles": "auditor,viewer"})
    assert (nobody.status_code, nobody.json()) == (403, {"detail": "requires the admin role"})
    assert admin.status_code == 204
    assert admin_reads_audit.json() == {"detail": "requires the auditor role"}
    assert auditor.json() == ["ada deleted bob"]


async def test_an_instance_is_overridden_by_itself_and_nothing_else() -> None:
    module = fresh("roles.py")

    async def allow() -> None:
        return None

    module.app.dependency_overrides[module.require_admin] = allow
    async with client_for(module.app) as client:
        deleted = await client.delete("/users/bob")
        audit = await client.get("/audit-log")
    assert deleted.status_code == 204
    assert audit.status_code == 403  # another instance, another key


async def test_a_factory_made_dependency_cannot_be_overridden() -> None:
    module = fresh("roles.py")

    async def allow() -> None:
        return None

    assert module.require_role("auditor") is not module.require_role("auditor")
    module.app.dependency_overrides[module.require_role("auditor")] = allow
    async with client_for(module.app) as client:
        reports = await client.get("/reports")
    assert reports.status_code == 403


# -- search_terms.py / checked_search.py: a bound per instance -----------------------------


def reference_search() -> FastAPI:
    """What FastAPI answers for the bounds of `people_search`, declared the usual way."""
    reference = FastAPI()

    @reference.get("/people")
    async def people(
        q: Annotated[str, Query(min_length=3, max_length=50)],
        page: Annotated[int, Query(ge=1)] = 1,
    ) -> list[str]:
        return []

    return reference


async def test_each_instance_validates_with_its_own_signature() -> None:
    app = fresh("search_terms.py").app
    async with client_for(app) as client, client_for(reference_search()) as ref:
        for params in ({"q": "ad"}, {"q": "ad", "page": "0"}, {"q": "x" * 51}):
            ours, theirs = (
                await client.get("/people", params=params),
                await ref.get("/people", params=params),
            )
            assert (ours.status_code, ours.json()) == (422, theirs.json()), params
        both = await client.get("/people", params={"q": "ad", "page": "0"})
        found = await client.get("/people", params={"q": "ada"})
        one_letter_tag = await client.get("/tags", params={"q": "a"})
    assert [e["type"] for e in both.json()["detail"]] == ["string_too_short", "greater_than_equal"]
    assert both.json()["detail"][0]["ctx"] == {"min_length": 3}
    assert found.json() == ["ada"]
    assert one_letter_tag.json() == ["a", "api", "async"]


def test_openapi_documents_each_instance_bound() -> None:
    paths = fresh("search_terms.py").app.openapi()["paths"]
    minimums = {
        path: paths[path]["get"]["parameters"][0]["schema"]["minLength"]
        for path in ("/people", "/tags")
    }
    assert minimums == {"/people": 3, "/tags": 1}
    names = [p["name"] for p in paths["/people"]["get"]["parameters"]]
    assert names == ["q", "page"]


async def test_a_bound_checked_in_call_gives_the_same_error_but_later() -> None:
    app = fresh("checked_search.py").app
    async with client_for(app) as client, client_for(reference_search()) as ref:
        alone = await client.get("/people", params={"q": "ad"})
        alone_ref = await ref.get("/people", params={"q": "ad"})
        both = await client.get("/people", params={"q": "ad", "page": "0"})
    assert (alone.status_code, alone.json()) == (422, alone_ref.json())
    assert [e["type"] for e in both.json()["detail"]] == ["greater_than_equal"]  # q: next time


def test_a_bound_checked_in_call_is_not_documented() -> None:
    paths = fresh("checked_search.py").app.openapi()["paths"]
    schema = paths["/people"]["get"]["parameters"][0]["schema"]
    assert schema == {"type": "string", "maxLength": 50, "title": "Q"}


# -- request_cache.py / cache_quirk.py: once per process, request, use --------------------


async def test_one_connection_per_request_and_one_stamp_per_use() -> None:
    module = fresh("request_cache.py")
    async with client_for(module.app) as client:
        first = await client.get("/dashboard")
        counts_after_first = dict(module.calls)
        second = await client.get("/dashboard")
    assert first.json() == {"connections": 1, "stamps": [1, 2, 3]}
    assert counts_after_first == {"get_settings": 1, "get_connection": 1, "stamp": 3}
    assert second.json() == {"connections": 1, "stamps": [4, 5, 6]}
    assert dict(module.calls) == {"get_settings": 1, "get_connection": 2, "stamp": 6}


async def test_lru_cache_on_an_async_dependency_breaks_the_second_request() -> None:
    from functools import lru_cache

    @lru_cache
    async def get_config() -> dict[str, int]:
        return {"retries": 3}

    app = FastAPI()

    @app.get("/config")
    async def config(value: Annotated[dict[str, int], Depends(get_config)]) -> dict[str, int]:
        return value

    async with client_for(app) as client:
        assert (await client.get("/config")).json() == {"retries": 3}
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            await client.get("/config")


async def test_an_uncached_sub_dependency_runs_at_every_declaration() -> None:
    module = fresh("cache_quirk.py")
    async with client_for(module.app) as client:
        response = await client.get("/profile")
    assert response.json() == {"user": "ada", "author": "ada"}
    assert module.runs == ["stamp", "load_user", "stamp"]


async def test_the_same_function_in_two_scopes_is_two_cache_entries() -> None:
    calls: list[str] = []

    async def get_session() -> AsyncIterator[str]:
        calls.append("open")
        yield "session"

    app = FastAPI()

    @app.get("/")
    async def both(
        a: Annotated[str, Depends(get_session)],
        b: Annotated[str, Depends(get_session, scope="function")],
    ) -> None:
        return None

    async with client_for(app) as client:
        await client.get("/")
    assert calls == ["open", "open"]


# -- teardown_order.py: nested yield dependencies -----------------------------------------


async def test_nested_dependencies_exit_in_reverse_order_after_the_response() -> None:
    module = fresh("teardown_order.py")
    await TRACE(module.app, "/transfers", module.log, method="POST")
    assert module.log == [
        "open pool",
        "connect",
        "begin",
        "start audit",
        "endpoint",
        "send status 200",
        'send body \'{"ran in":"transaction on connection from pool"}\'',
        "flush audit",
        "commit",
        "disconnect",
        "close pool",
    ]


async def test_code_after_a_bare_yield_is_skipped_when_the_endpoint_fails() -> None:
    module = fresh("teardown_order.py")
    Transaction = Annotated[str, Depends(module.get_transaction)]

    @module.app.post("/failing")
    async def failing(tx: Transaction) -> None:
        raise RuntimeError("the endpoint failed")

    async with client_for(module.app, raise_app_exceptions=False) as client:
        response = await client.post("/failing")
    assert response.status_code == 500
    assert module.log == ["open pool", "connect", "begin"]  # no commit, no disconnect, no close


async def test_the_in_process_client_returns_only_after_the_teardown() -> None:
    module = fresh("teardown_order.py")
    async with client_for(module.app) as client:
        response = await client.post("/transfers")
        assert module.log[-1] == "close pool"  # already, when the response arrives
    assert response.status_code == 200


# -- reraise.py: except, then raise -------------------------------------------------------


async def test_a_re_raised_error_reaches_its_handler() -> None:
    module = fresh("reraise.py")
    async with client_for(module.app) as client:
        paid = await client.post("/payments/50")
        refused = await client.post("/payments/500")
    assert (paid.status_code, paid.json()) == (200, {"paid": 50})
    assert (refused.status_code, refused.json()) == (409, {"detail": "insufficient funds"})
    assert module.events == ["commit", "rollback"]


async def test_a_swallowed_error_becomes_a_500() -> None:
    module = fresh("reraise.py")
    async with client_for(module.app) as client:
        with pytest.raises(FastAPIError, match="Response not awaited"):
            await client.post("/swallowed/500")
    async with client_for(module.app, raise_app_exceptions=False) as client:
        response = await client.post("/swallowed/500")
        ok = await client.post("/swallowed/50")
    assert response.status_code == 500  # not 409: the handler never saw the error
    assert ok.json() == {"paid": 50}
    assert module.events == ["rollback", "rollback"]


async def test_except_exception_also_catches_an_http_exception() -> None:
    seen: list[str] = []

    async def broad() -> AsyncIterator[None]:
        try:
            yield
        except Exception as exc:
            seen.append(type(exc).__name__)

    app = FastAPI()

    @app.get("/items/{item}", dependencies=[Depends(broad)])
    async def item(item: str) -> None:
        raise HTTPException(status_code=404, detail="no such item")

    async with client_for(app, raise_app_exceptions=False) as client:
        response = await client.get("/items/x")
    assert seen == ["HTTPException"]
    assert response.status_code == 500  # the 404 was swallowed with everything else


async def test_swallowing_in_a_function_scoped_dependency_fails_inside_fastapi() -> None:
    module = fresh("reraise.py")
    app = FastAPI()
    swallowing = Depends(module.swallowing_transaction, scope="function")

    @app.post("/pay", dependencies=[swallowing])
    async def pay() -> None:
        raise module.InsufficientFunds

    async with client_for(app) as client:
        with pytest.raises(UnboundLocalError):
            await client.post("/pay")
    async with client_for(app, raise_app_exceptions=False) as client:
        assert (await client.post("/pay")).status_code == 500


# -- scopes.py / failed_commit.py: before or after the response ---------------------------


async def test_function_scope_exits_before_the_response_and_request_scope_after_it() -> None:
    module = fresh("scopes.py")
    await TRACE(module.app, "/report", module.log)
    assert module.log == [
        "enter request-scoped",
        "enter function-scoped",
        "endpoint returns",
        "exit function-scoped",
        "send status 200",
        "make row 1",
        "send body 'row 1\\n'",
        "make row 2",
        "send body 'row 2\\n'",
        "send end of body",
        "background task",
        "exit request-scoped",
    ]


async def test_a_streaming_endpoint_runs_after_function_scope_has_exited() -> None:
    module = fresh("scopes.py")
    await TRACE(module.app, "/lines", module.log)
    assert module.log == [
        "enter request-scoped",
        "enter function-scoped",
        "exit function-scoped",
        "send status 200",
        "endpoint starts",
        "send body '\"line 1\"\\n'",
        "send body '\"line 2\"\\n'",
        "send end of body",
        "exit request-scoped",
    ]


async def test_on_an_error_every_scope_exits_before_the_error_response() -> None:
    module = fresh("scopes.py")
    await TRACE(module.app, "/broken", module.log)
    assert module.log == [
        "enter request-scoped",
        "enter function-scoped",
        "exit function-scoped",
        "exit request-scoped",
        "send status 503",
        'send body \'{"detail":"try again later"}\'',
    ]


def test_a_request_scoped_dependency_cannot_depend_on_a_function_scoped_one() -> None:
    module = fresh("scopes.py")

    async def session(_: module.FunctionScoped) -> AsyncIterator[None]:  # type: ignore[name-defined]
        yield

    with pytest.raises(DependencyScopeError, match='cannot depend on dependencies with scope "f'):

        @module.app.get("/invalid")
        async def invalid(_: Annotated[None, Depends(session)]) -> None:
            return None


async def test_an_error_after_yield_changes_the_response_only_in_function_scope() -> None:
    module = fresh("failed_commit.py")
    async with client_for(module.app) as client:
        function_scoped = await client.post("/function-scoped")
    assert (function_scoped.status_code, function_scoped.json()) == (
        409,
        {"detail": "commit failed: a concurrent update won"},
    )
    log: list[str] = []
    with pytest.raises(RuntimeError, match="response already started"):
        await TRACE(module.app, "/request-scoped", log, method="POST")
    assert log == ["send status 200", "send body '{\"saved\":true}'"]
    async with client_for(module.app, raise_app_exceptions=False) as client:
        request_scoped = await client.post("/request-scoped")
    assert (request_scoped.status_code, request_scoped.json()) == (200, {"saved": True})


# -- guards.py / collected_errors.py: app- and router-level dependencies ------------------

KEY = {"x-api-key": "secret"}
ADMIN = {"x-role": "admin"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/orders", {}, 401),
        ("GET", "/orders", KEY, 200),
        ("GET", "/orders", {**KEY, "x-role": "user"}, 200),  # no admin rule outside /admin
        ("GET", "/admin/users", {**KEY, **ADMIN}, 200),
        ("GET", "/admin/users", {**KEY, "x-role": "user"}, 403),
        ("GET", "/admin/users", ADMIN, 401),
        ("GET", "/admin/users", {}, 401),  # both fail: the app-level check runs first
        ("POST", "/admin/users/bob/ban", {**KEY, **ADMIN}, 200),
        ("POST", "/admin/users/bob/ban", KEY, 403),
        ("GET", "/openapi.json", {}, 200),
        ("GET", "/docs", {}, 200),
    ],
)
async def test_guards(method: str, path: str, headers: dict[str, str], status: int) -> None:
    app = fresh("guards.py").app
    async with client_for(app) as client:
        response = await client.request(method, path, headers=headers)
    assert response.status_code == status


async def test_dependencies_run_from_the_app_inwards() -> None:
    module = fresh("guards.py")
    order: list[str] = []

    def recorder(name: str) -> Callable[[], Any]:
        async def record() -> None:
            order.append(name)

        return record

    module.app.dependency_overrides[module.verify_key] = recorder("app")
    reports = APIRouter(prefix="/reports", dependencies=[Depends(recorder("router"))])

    @reports.get("/daily", dependencies=[Depends(recorder("decorator"))])
    async def daily(
        first: Annotated[None, Depends(recorder("parameter 1"))],
        second: Annotated[None, Depends(recorder("parameter 2"))],
    ) -> None:
        order.append("endpoint")

    module.app.include_router(reports, dependencies=[Depends(recorder("include_router"))])
    async with client_for(module.app) as client:
        await client.get("/reports/daily")
    assert order == [
        "app",
        "include_router",
        "router",
        "decorator",
        "parameter 1",
        "parameter 2",
        "endpoint",
    ]


async def test_a_validation_error_waits_while_a_later_check_raises() -> None:
    app = fresh("collected_errors.py").app
    async with client_for(app) as client:
        nothing = await client.get("/admin/users")
        admin_without_key = await client.get("/admin/users", headers=ADMIN)
        wrong_key = await client.get("/admin/users", headers={"x-api-key": "x", **ADMIN})
    assert (nothing.status_code, nothing.json()) == (403, {"detail": "admins only"})
    assert admin_without_key.status_code == 422
    assert admin_without_key.json()["detail"][0]["loc"] == ["header", "x-api-key"]
    assert wrong_key.status_code == 401


# -- bulkhead.py: Depends(..., max_concurrency=N) -----------------------------------------


class Probe:
    """The app's upstream, reached through a route the test adds."""

    def __init__(self, app: FastAPI) -> None:
        self.upstream: Any = None

        @app.get("/_probe")
        async def probe(request: Request) -> None:
            self.upstream = request.state.upstream


async def peak_of(app: FastAPI, paths: list[str], probe: Probe) -> tuple[int, list[int]]:
    """Send `paths` at once; the peak of calls in flight, then every status once released."""
    statuses: list[int] = []

    async def get(client: httpx.AsyncClient, path: str) -> None:
        statuses.append((await client.get(path)).status_code)

    async with client_for(app) as client:
        await client.get("/_probe")
        upstream = probe.upstream
        async with anyio.create_task_group() as group:
            for path in paths:
                group.start_soon(get, client, path)
            await until(lambda: upstream.in_flight > 0)
            await settle()
            peak = upstream.peak
            upstream.released.set()
    return peak, statuses


async def test_one_alias_caps_two_routes_together() -> None:
    module = fresh("bulkhead.py")
    probe = Probe(module.app)
    paths = [f"/quotes/Q{n}" for n in range(5)] + [f"/news/N{n}" for n in range(5)]
    peak, statuses = await peak_of(module.app, paths, probe)
    assert peak == 3
    assert statuses == [200] * 10


async def test_routes_outside_the_bulkhead_are_not_held_up() -> None:
    module = fresh("bulkhead.py")
    probe = Probe(module.app)
    async with client_for(module.app) as client:
        await client.get("/_probe")
        async with anyio.create_task_group() as group:
            for n in range(5):
                group.start_soon(client.get, f"/quotes/Q{n}")
            await until(lambda: probe.upstream.in_flight == 3)
            health = await client.get("/health")
            probe.upstream.released.set()
    assert health.json() == {"ok": True}


async def test_a_failing_call_frees_its_slot() -> None:
    module = fresh("bulkhead.py")
    probe = Probe(module.app)
    async with client_for(module.app) as client:
        await client.get("/_probe")
        probe.upstream.down = True
        probe.upstream.released.set()
        with anyio.fail_after(2):
            statuses = [(await client.get(f"/quotes/Q{n}")).status_code for n in range(5)]
            after = await client.get("/news/N")
    assert statuses == [502] * 5
    assert after.status_code == 502  # a fifth, sixth call still got a slot


async def test_a_plain_return_dependency_caps_nothing_after_it_returns() -> None:
    module = fresh("bulkhead.py")
    probe = Probe(module.app)
    peak, _ = await peak_of(module.app, [f"/plain/P{n}" for n in range(10)], probe)
    assert peak == 10


async def test_each_depends_object_has_its_own_limit() -> None:
    module = fresh("bulkhead.py")
    probe = Probe(module.app)
    paths = [f"/quotes/Q{n}" for n in range(5)] + [f"/inline/I{n}" for n in range(5)]
    peak, _ = await peak_of(module.app, paths, probe)
    assert peak == 6


async def test_an_override_runs_under_the_original_limit() -> None:
    module = fresh("bulkhead.py")
    probe = Probe(module.app)

    async def fake_upstream(request: Request) -> AsyncIterator[Any]:
        yield request.state.upstream

    module.app.dependency_overrides[module.get_upstream] = fake_upstream
    peak, _ = await peak_of(module.app, [f"/quotes/Q{n}" for n in range(10)], probe)
    assert peak == 3


async def test_the_slot_is_held_until_the_exit_code_and_scope_decides_when() -> None:
    log: list[str] = []

    async def slot(request: Request) -> AsyncIterator[None]:
        log.append("slot taken")
        yield
        log.append("slot freed")

    for scope, expected in [
        ("request", ["slot taken", "send status 200", "send body '\"x\"'", "slot freed"]),
        ("function", ["slot taken", "slot freed", "send status 200", "send body '\"x\"'"]),
    ]:
        app = FastAPI()

        @app.get("/")
        async def limited(
            _: Annotated[None, Depends(slot, max_concurrency=1, scope=scope)],  # type: ignore[arg-type]
        ) -> str:
            return "x"

        log.clear()
        await TRACE(app, "/", log)
        assert log == expected, scope


async def test_sub_dependencies_are_solved_before_waiting_for_a_slot() -> None:
    opened, released = [], anyio.Event()

    async def session() -> AsyncIterator[None]:
        opened.append("session")
        yield

    async def client_call(_: Annotated[None, Depends(session)]) -> AsyncIterator[None]:
        await released.wait()
        yield

    app = FastAPI()

    @app.get("/")
    async def route(_: Annotated[None, Depends(client_call, max_concurrency=1)]) -> None:
        return None

    async with client_for(app) as client, anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(client.get, "/")
        await until(lambda: len(opened) == 4)  # four sessions open, one slot taken
        released.set()


async def test_a_value_reused_in_one_request_takes_no_second_slot() -> None:
    async def get_client() -> AsyncIterator[str]:
        yield "client"

    Client = Annotated[str, Depends(get_client, max_concurrency=1)]
    app = FastAPI()

    @app.get("/")
    async def twice(a: Client, b: Client) -> str:
        return a + b

    async with client_for(app) as client:
        with anyio.fail_after(2):
            assert (await client.get("/")).json() == "clientclient"


def test_max_concurrency_must_be_a_positive_int() -> None:
    module = fresh("bulkhead.py")
    with pytest.raises(ValueError, match="positive integer"):
        Depends(module.get_upstream, max_concurrency=0)


# -- override_fixture.py: overrides that never leak ---------------------------------------


def run_pytest(*files: Path, cwd: Path) -> str:
    command = [sys.executable, "-m", "pytest", *map(str, files), "-q", "-p", "no:cacheprovider"]
    command += ["-p", "asyncio", "-o", "asyncio_mode=auto", "-W", "error"]
    command += ["-o", "asyncio_default_fixture_loop_scope=function", "--rootdir", str(cwd)]
    env = {**os.environ, "PYTHONPATH": str(SNIPPETS), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=60
    )
    return done.stdout


LEAK_CHECK = """
from override_fixture import app, at, client, get_now, overrides  # noqa: F401


def test_fails_while_overridden(overrides):
    overrides[get_now] = at(9)
    assert False, "a failing test"


def test_fails_while_monkeypatched(monkeypatch):
    monkeypatch.setitem(app.dependency_overrides, get_now, at(9))
    assert False, "a failing test"


def test_nothing_was_left_behind():
    assert app.dependency_overrides == {}


def test_leaky(overrides):
    app.dependency_overrides[get_now] = at(9)  # by hand, cleared only if the test passes
    assert False, "a failing test"
    app.dependency_overrides.clear()


def test_a_hand_made_override_leaks_without_the_fixture():
    app.dependency_overrides[get_now] = at(9)
    assert False, "a failing test"
    app.dependency_overrides.clear()


def test_sees_the_leak():
    assert get_now in app.dependency_overrides
"""


def test_the_override_fixture_tests_pass(tmp_path: Path) -> None:
    output = run_pytest(SNIPPETS / "override_fixture.py", cwd=tmp_path)
    assert re.search(r"\b3 passed\b", output), output


def test_the_override_fixture_cleans_up_after_a_failing_test(tmp_path: Path) -> None:
    checks = tmp_path / "test_leaks.py"
    checks.write_text(LEAK_CHECK)
    output = run_pytest(checks, cwd=tmp_path)
    assert re.search(r"\b4 failed, 2 passed\b", output), output
    for passed in ("test_nothing_was_left_behind", "test_sees_the_leak"):
        assert f"FAILED test_leaks.py::{passed}" not in output


async def test_overrides_are_keyed_by_the_function_not_the_alias() -> None:
    module = fresh("aliases.py")

    async def fake_user() -> Any:
        return module.User(name="test-user")

    module.app.dependency_overrides[module.CurrentUser] = fake_user
    async with client_for(module.app) as client:
        by_alias = await client.get("/me")
        module.app.dependency_overrides = {module.get_current_user: fake_user}
        by_function = await client.get("/me")
    assert by_alias.status_code == 422  # the alias is no key: the real dependency ran
    assert by_function.json() == {"name": "test-user"}


async def test_a_mounted_app_has_its_own_overrides() -> None:
    module = fresh("aliases.py")
    parent = FastAPI()
    parent.mount("/v1", module.app)

    async def fake_user() -> Any:
        return module.User(name="test-user")

    parent.dependency_overrides[module.get_current_user] = fake_user
    async with client_for(parent) as client:
        response = await client.get("/v1/me")
    assert response.status_code == 422  # the parent's overrides never reach the mounted app


# -- smaller claims of the page -----------------------------------------------------------


async def test_a_dependency_may_raise_another_error_from_the_one_it_caught() -> None:
    module = fresh("reraise.py")

    async def translating() -> AsyncIterator[None]:
        try:
            yield
        except module.InsufficientFunds as exc:
            raise HTTPException(status_code=402, detail="top up first") from exc

    app = FastAPI()

    @app.post("/pay", dependencies=[Depends(translating)])
    async def pay() -> None:
        raise module.InsufficientFunds

    async with client_for(app) as client:
        response = await client.post("/pay")
    assert (response.status_code, response.json()) == (402, {"detail": "top up first"})


async def test_your_own_validation_handler_receives_the_instance_error() -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    app = fresh("checked_search.py").app

    @app.exception_handler(RequestValidationError)
    async def handler(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"problems": [e["type"] for e in exc.errors()]}, status_code=400)

    async with client_for(app) as client:
        response = await client.get("/people", params={"q": "ad"})
    assert (response.status_code, response.json()) == (400, {"problems": ["string_too_short"]})


def test_each_event_loop_has_its_own_count() -> None:
    import asyncio

    (limit,) = fresh("bulkhead.py").UpstreamDep.__metadata__

    async def semaphore() -> Any:
        return limit._concurrency.get_semaphore()

    assert asyncio.run(semaphore()) is not asyncio.run(semaphore())
