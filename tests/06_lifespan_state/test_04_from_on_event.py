"""Hidden suite for 06_lifespan_state/04_from_on_event: one lifespan, the same behaviour.

The checks serve each app with `client_for`, as Uvicorn does: its lifespan runs around the
requests, and every request sees a shallow copy of the lifespan's state (the same dict for
every request would hide a count kept by assigning `request.state`).  The order of start-up
and shutdown is read from the given `EVENTS` log; failures are planted by making one method
of the given classes raise.
"""

import ast
import inspect
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from workbook.testing import (
    STARTUP_TIMEOUT,
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
)

# the stub's on_event handlers warn while an app is built: only the warning check sees that
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

START = ["database connected", "flags loaded", "heartbeat started"]
STOP = ["heartbeat stopped", "database disconnected"]

ORDER_HELP = (
    "Is a step still registered with on_event? Once the app has a lifespan, FastAPI "
    "skips those handlers without a word. Start-up is the code before the lifespan's "
    "yield, shutdown the code after it."
)
SHUTDOWN_ORDER_HELP = (
    "Does the shutdown undo the start-up newest first? The heartbeat started last, so it "
    "stops first; the database goes last."
)
COUNT_HELP = (
    "Is the count a number kept in the state and changed by assigning request.state? "
    "Each request gets a shallow copy of the lifespan's state, so the assignment changes "
    "that request's copy only. Keep the count in an object the copies share (a small "
    "dataclass) and change the object."
)
SHARED_HELP = (
    "Are the flags or the count kept at module level, or made once for every app? Make "
    "them in the lifespan, which runs once for each app, and yield them as its state."
)
UNDO_HELP = (
    "Does a failing step leave earlier resources open? Code before the yield is undone "
    "only if you arrange it: close each resource in a `finally`, or push its close onto "
    "an AsyncExitStack as soon as it is open."
)
NOT_UNDONE_HELP = (
    "Is a step undone although it failed, or did a later step run? Register each close "
    "only once its resource is open, and stop at the first failure."
)
RAISED_AS_IS_HELP = (
    "Does the lifespan catch the error and raise another, or not raise at all? Let the "
    "step's own exception leave the lifespan: the server reports it and stops."
)
STOP_FAILS_HELP = (
    "Does disconnecting the database depend on stopping the heartbeat first without an "
    "error? A nested `finally`, or an AsyncExitStack, runs every close, and the first "
    "error still reaches the server."
)

NEW_HELP = (
    "Is a Database or a Heartbeat made once (at import, or in create_app) and used again? "
    "Make each one in the lifespan, so that every start-up of every app opens its own."
)
RESTART_HELP = (
    "Is the count made once per app, in create_app, instead of in the lifespan? The "
    "lifespan runs at each start-up: make the count's object there, so each start counts "
    "from 0."
)


class Outage(Exception):
    """The error a check makes one of the given methods raise."""


def build(exercise: ModuleType) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return exercise.create_app()


@pytest.fixture(autouse=True)
def events(exercise: ModuleType) -> Iterator[list[str]]:
    """The given EVENTS log, empty at the start of each check."""
    exercise.EVENTS.clear()
    yield exercise.EVENTS
    exercise.EVENTS.clear()


def fail(method: Callable[..., Any], planted: Outage) -> Callable[..., Any]:
    """A stand-in for `method` that raises `planted`: async if the method is."""
    if inspect.iscoroutinefunction(method):

        async def failing_async(self: Any) -> Any:
            raise planted

        return failing_async

    def failing(self: Any) -> Any:
        raise planted

    return failing


# -- no event handlers, no warnings ----------------------------------------------------


def listed(caught: list[warnings.WarningMessage], exercise: ModuleType) -> list[str]:
    """Each warning once, with the lines of the learner's file it points at."""
    source = Path(exercise.__file__).resolve()
    where: dict[str, list[int]] = {}
    for warning in caught:
        first = " ".join(str(warning.message).split()).split(". ")[0]
        lines_of = where.setdefault(f"{warning.category.__name__}: {first}", [])
        if Path(warning.filename) == source:
            lines_of.append(warning.lineno)
    return [f"- {text}" + (f" ({lines(found)})" if found else "") for text, found in where.items()]


async def test_no_warning(exercise):
    """building and running the app emits no warning"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with client_for(exercise.create_app()) as client:
            await client.get("/flags/dark_mode")
    found = listed(caught, exercise)
    if found:
        raise Failure("expected no warning, not:\n" + "\n".join(found))


HANDLER_APIS = ("on_event", "add_event_handler", "on_startup", "on_shutdown")


def name_of(node: ast.AST) -> str | None:
    """The name an attribute, a variable or a keyword argument spells."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.keyword):
        return node.arg
    return None


def uses(tree: ast.Module, names: tuple[str, ...]) -> dict[str, list[int]]:
    """The lines where each name is used as an attribute, a variable or a keyword."""
    found: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        name = name_of(node)
        if name in names:
            found.setdefault(name, []).append(getattr(node, "lineno", 0))
    return found


def app_state(tree: ast.Module) -> list[int]:
    """The lines of `app.state` and `request.app.state`, read or written."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "state"
        and (
            (isinstance(node.value, ast.Name) and node.value.id == "app")
            or (isinstance(node.value, ast.Attribute) and node.value.attr == "app")
        )
    ]


def parsed(exercise: ModuleType) -> ast.Module:
    return ast.parse(Path(exercise.__file__).read_text(encoding="utf-8"))


def lines(numbers: list[int]) -> str:
    unique = sorted(set(numbers))
    return ("line " if len(unique) == 1 else "lines ") + ", ".join(map(str, unique))


def test_source_has_no_event_handlers(exercise):
    """the code no longer uses on_event, add_event_handler or on_startup/on_shutdown"""
    found = uses(parsed(exercise), HANDLER_APIS)
    if found:
        listed = "; ".join(
            f"{name} ({lines(found[name])})" for name in HANDLER_APIS if name in found
        )
        raise Failure(
            f"the code still registers event handlers: {listed}",
            help="Move each handler into the lifespan: start-up code before its yield, "
            "shutdown code after it. A handler left behind never runs once there is a lifespan.",
        )


def test_source_has_no_app_state(exercise):
    """the code no longer uses app.state"""
    found = app_state(parsed(exercise))
    if found:
        raise Failure(
            f"app.state is still used ({lines(found)})",
            help="Yield what the routes need from the lifespan, as a dict: each request "
            "reads it as request.state.",
        )


# -- start-up and shutdown -----------------------------------------------------------------


@pytest.mark.stub_may_pass("the on_event handlers open nothing either: the lifespan must not")
def test_building_opens_nothing(exercise, events):
    """building the app opens nothing: the lifespan does"""
    first, second = build(exercise), build(exercise)
    expect_equal("EVENTS after create_app()", [], list(events))
    expect(first is not second, "expected create_app() to build a new app each time, not one app")


@pytest.mark.stub_may_pass("the on_event app starts in this order: the lifespan must too")
async def test_startup_order(exercise, events):
    """start-up connects the database, loads the flags, then starts the heartbeat"""
    async with client_for(build(exercise)):
        expect_equal("EVENTS once the app has started", START, list(events), help=ORDER_HELP)


@pytest.mark.stub_may_pass("the on_event app stops in this order: the lifespan must too")
async def test_shutdown_order(exercise, events):
    """shutdown stops the heartbeat, then disconnects the database"""
    async with client_for(build(exercise)) as client:
        await client.get("/flags/dark_mode")
    expect_equal(
        "EVENTS once the app has stopped", START + STOP, list(events), help=SHUTDOWN_ORDER_HELP
    )


STEPS = {  # the failing method: the EVENTS left by a start-up that fails there
    "connect": ("Database", "connect", []),
    "load_flags": ("Database", "load_flags", ["database connected", "database disconnected"]),
    "heartbeat": (
        "Heartbeat",
        "start",
        ["database connected", "flags loaded", "database disconnected"],
    ),
}


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(
            "connect",
            marks=pytest.mark.stub_may_pass("the on_event app opens nothing before it either"),
        ),
        "load_flags",
        "heartbeat",
    ],
)
async def test_failed_startup_closes_what_was_opened(exercise, events, monkeypatch, step):
    """when a start-up step fails, the error stops the app and what was opened is closed"""
    owner, method, expected = STEPS[step]
    cls = getattr(exercise, owner)
    planted = Outage(f"{owner}.{method} failed")
    monkeypatch.setattr(cls, method, fail(getattr(cls, method), planted))
    try:
        # not client_for: its AppStartError would hide the lifespan's own error
        async with LifespanManager(build(exercise), startup_timeout=STARTUP_TIMEOUT):
            pass
    except Outage as exc:
        expect(
            exc is planted,
            f"expected the start-up to fail with the error {owner}.{method}() raised, "
            f"not another Outage",
            help=RAISED_AS_IS_HELP,
        )
    except Exception as exc:
        raise Failure(
            f"expected the start-up to fail with the Outage {owner}.{method}() raised, "
            f"not {type(exc).__name__}: {exc}",
            help=RAISED_AS_IS_HELP,
        ) from None
    else:
        raise Failure(
            f"expected the start-up to fail when {owner}.{method}() raises, but the app started",
            help=RAISED_AS_IS_HELP,
        )
    help = UNDO_HELP if len(events) < len(expected) else NOT_UNDONE_HELP
    expect_equal(f"EVENTS after {owner}.{method}() failed", expected, list(events), help=help)


async def test_failed_heartbeat_stop_still_disconnects(exercise, events, monkeypatch):
    """when stopping the heartbeat fails, the database is still disconnected"""
    planted = Outage("Heartbeat.stop failed")
    monkeypatch.setattr(exercise.Heartbeat, "stop", fail(exercise.Heartbeat.stop, planted))
    raised: BaseException | None = None
    try:
        async with client_for(build(exercise)):
            pass
    except Outage as exc:
        raised = exc
    expect_equal(
        "EVENTS after Heartbeat.stop() failed",
        [*START, "database disconnected"],
        list(events),
        help=STOP_FAILS_HELP,
    )
    expect(
        raised is planted,
        "expected the shutdown to fail with the error Heartbeat.stop() raised, "
        + ("but it finished cleanly" if raised is None else "not another Outage"),
        help=RAISED_AS_IS_HELP,
    )


# -- what the routes see ---------------------------------------------------------------------


@pytest.mark.stub_may_pass("the on_event app answers the same: the migration must keep it")
@pytest.mark.parametrize(
    ("name", "status", "body"),
    [
        ("dark_mode", 200, {"name": "dark_mode", "enabled": True}),
        ("new_checkout", 200, {"name": "new_checkout", "enabled": False}),
        ("old_search", 404, {"detail": "unknown flag"}),
    ],
)
async def test_flag_is_read(exercise, name, status, body):
    """GET /flags/{name} answers the flag loaded at start-up, or 404"""
    async with client_for(build(exercise)) as client:
        response = await client.get(f"/flags/{name}")
    expect_status(response, status)
    expect_json(response, body)


async def lookups(client: httpx.AsyncClient) -> Any:
    response = await client.get("/stats")
    expect_status(response, 200)
    return response.json()


@pytest.mark.stub_may_pass("the on_event app counts on app.state: the migration must count too")
async def test_lookups_are_counted(exercise):
    """GET /stats counts the lookups answered since start-up, and no 404"""
    async with client_for(build(exercise)) as client:
        expect_equal("GET /stats before any lookup", {"lookups": 0}, await lookups(client))
        await client.get("/flags/dark_mode")
        await client.get("/flags/new_checkout")
        await client.get("/flags/old_search")
        await client.get("/flags/dark_mode")
        expect_equal(
            "GET /stats after three lookups and a 404",
            {"lookups": 3},
            await lookups(client),
            help=COUNT_HELP,
        )


@pytest.mark.stub_may_pass("the on_event app keeps its state per app: the migration must too")
async def test_apps_do_not_share_state(exercise, events):
    """two apps running at once each keep their own flags and count"""
    async with client_for(build(exercise)) as first, client_for(build(exercise)) as second:
        await first.get("/flags/dark_mode")
        await first.get("/flags/dark_mode")
        await second.get("/flags/new_checkout")
        counts = [await lookups(first), await lookups(second)]
    stuck = counts == [{"lookups": 0}, {"lookups": 0}]
    expect_equal(
        "GET /stats of the two apps",
        [{"lookups": 2}, {"lookups": 1}],
        counts,
        help=COUNT_HELP if stuck else SHARED_HELP,
    )
    expect_equal(
        "EVENTS of two apps started and stopped",
        START + START + STOP + STOP,
        list(events),
        help=SHARED_HELP,
    )


def calls_of(monkeypatch: pytest.MonkeyPatch, cls: type, method: str) -> list[Any]:
    """The objects `cls.method` is called on, in order; the method still runs."""
    seen: list[Any] = []
    real = getattr(cls, method)
    if inspect.iscoroutinefunction(real):

        async def watched_async(self: Any) -> Any:
            seen.append(self)
            return await real(self)

        monkeypatch.setattr(cls, method, watched_async)
    else:

        def watched(self: Any) -> Any:
            seen.append(self)
            return real(self)

        monkeypatch.setattr(cls, method, watched)
    return seen


@pytest.mark.stub_may_pass("the on_event handlers make new resources at each start-up too")
async def test_new_resources_at_each_start(exercise, events, monkeypatch):
    """each start-up connects a new Database, loads the flags from it, starts a new Heartbeat"""
    connected = calls_of(monkeypatch, exercise.Database, "connect")
    loaded = calls_of(monkeypatch, exercise.Database, "load_flags")
    started = calls_of(monkeypatch, exercise.Heartbeat, "start")
    app = build(exercise)
    async with client_for(app), client_for(build(exercise)):
        pass
    async with client_for(app):
        pass
    databases, heartbeats = len({id(db) for db in connected}), len({id(hb) for hb in started})
    expect_equal("Databases connected by three start-ups", 3, databases, help=NEW_HELP)
    expect_equal("Heartbeats started by three start-ups", 3, heartbeats, help=NEW_HELP)
    expect(
        [id(db) for db in loaded] == [id(db) for db in connected],
        "expected each start-up to load the flags from the Database it just connected",
        help=NEW_HELP,
    )


@pytest.mark.stub_may_pass("the on_event app sets its count to 0 at each start-up too")
async def test_count_restarts_at_zero(exercise):
    """an app started again counts its lookups from 0"""
    app = build(exercise)
    async with client_for(app) as client:
        await client.get("/flags/dark_mode")
        first = await lookups(client)
    async with client_for(app) as client:
        again = await lookups(client)
    expect_equal("GET /stats after one lookup", {"lookups": 1}, first, help=COUNT_HELP)
    expect_equal("GET /stats once the app started again", {"lookups": 0}, again, help=RESTART_HELP)
