"""Hidden checks for 06_lifespan_state/05_lifespan_harness.

The learner writes a harness (`serve`, the `database` and `client` fixtures) and tests.
The harness is graded on small probe apps of these checks, whose lifespans log what ran:
start-up before the block, a clean shutdown after it (also when the block raised), errors
that come out as the lifespan raised them, and each request served with a shallow copy of
the lifespan's state, as Uvicorn serves it.  The tests are graded as in 03/05: the checks
run them the way pytest would (each with the fixtures its parameters name, torn down after
it), in a copy of the learner's file whose app under test (the lines between the marker
comments) is the reference's, where every test must pass, or a bug-seeded one (a diff of
the reference, in seeded/), where at least one test that passes on the correct app must
fail.  The given Database class is watched in each copy: every database a test connects
must be disconnected by the time the test is over.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
from fastapi import FastAPI, Request

from workbook import learner_tests
from workbook.learner_tests import Copies, Copy, Outcome
from workbook.testing import AppStartError, Failure, expect, expect_equal

SEEDED = sorted((Path(__file__).parent / "seeded").glob("*.diff"))
MIN_TESTS = 6
TOKEN = "made by the lifespan"

NO_LIFESPAN_HELP = (
    "Does serve run the app's lifespan? httpx.ASGITransport never sends the lifespan "
    "events: wrap the app in asgi_lifespan.LifespanManager, start it before the block, and "
    "give the transport manager.app."
)
CANCELLED_HELP = (
    "Does serve use `async with LifespanManager(...)` around the block? When the block "
    "raises, LifespanManager cancels the lifespan instead of shutting it down, so code "
    "after its yield never runs. Start it with `await manager.__aenter__()` and always "
    "finish with `await manager.__aexit__(None, None, None)` in a finally."
)
SWALLOWED_HELP = (
    "Does serve catch what the block or the lifespan raised? Let every exception leave "
    "serve as it is: the test must see the start-up failure, its own assertion, or the "
    "shutdown failure."
)
COPY_HELP = (
    "Does every request see the same state dict? LifespanManager hands each request the "
    "one dict it keeps, while Uvicorn hands each request a shallow copy: wrap the app in a "
    "small ASGI callable that replaces scope['state'] with a copy for 'http' scopes (not "
    "for the 'lifespan' scope, whose dict the lifespan fills), and give that to "
    "LifespanManager."
)
DEEP_COPY_HELP = (
    "Is the state copied deeply? Uvicorn's copy is shallow: a new dict holding the same "
    "objects, so a list or a counter object in the state is shared by every request."
)
FRESH_HELP = (
    "Does the client fixture reuse an app or a database made once for the whole module? "
    "Make both inside the fixtures, so each test gets its own."
)
TEARDOWN_HELP = (
    "Does the client fixture yield inside `async with serve(...)`? pytest finishes the "
    "fixture after the test, passed or failed, and leaving serve shuts the app down."
)
LEAK_HELP = (
    "Does a test start an app without leaving it, for example by calling "
    "LifespanManager's __aenter__ itself? Start apps with `async with serve(...)` or the "
    "client fixture only."
)


class Outage(Exception):
    """The error a probe app's lifespan raises when a check asks it to."""


class Planted(AssertionError):
    """The assertion a check's own block fails with, to see what the harness does then."""


@pytest.fixture(autouse=True)
async def no_task_left_running() -> AsyncIterator[None]:
    """Keep every task a check starts, and cancel those still running when it ends.

    A `serve` that skips the manager's `__aexit__` when its block raises leaves the app's
    lifespan waiting in asgi-lifespan's background task, a bare asyncio task that no
    cancel scope of the check reaches.  Nothing else refers to that task: were it garbage
    collected while pytest reports the check's failure, the lifespan's own error handling
    would run inside pytest's and crash the run (CPython 3.11), and every later check would
    read "not run".  Kept here, it is cancelled once the check is over.
    """
    loop = asyncio.get_running_loop()
    factory = loop.get_task_factory()
    started: list[asyncio.Future[Any]] = []

    def keep(loop: asyncio.AbstractEventLoop, coro: Any, **options: Any) -> asyncio.Future[Any]:
        if factory is None:
            task: asyncio.Future[Any] = asyncio.Task(coro, loop=loop, **options)
        else:
            task = factory(loop, coro, **options)
        started.append(task)
        return task

    loop.set_task_factory(keep)
    yield
    loop.set_task_factory(factory)
    running = [task for task in started if not task.done() and task is not asyncio.current_task()]
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=learner_tests.TEST_TIMEOUT_S)


# -- probe apps: what the harness runs, and when ---------------------------------------------


def probe_app(
    log: list[str], *, fail_start: Outage | None = None, fail_stop: Outage | None = None
) -> FastAPI:
    """A small app whose lifespan logs 'start' and 'stop' (not in a finally: a cancelled
    lifespan never logs 'stop')."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        log.append("start")
        if fail_start is not None:
            raise fail_start
        yield {"token": TOKEN, "hits": 0, "seen": []}
        log.append("stop")
        if fail_stop is not None:
            raise fail_stop

    app = FastAPI(lifespan=lifespan)

    @app.get("/token")
    async def token(request: Request) -> dict[str, Any]:
        return {"token": request.state.token, "log": list(log)}

    @app.post("/hit")
    async def hit(request: Request) -> int:
        request.state.hits = request.state.hits + 1  # a server's copy forgets this
        return request.state.hits

    @app.post("/see")
    async def see(request: Request) -> int:
        request.state.seen.append(1)  # the list itself is shared by every copy
        return len(request.state.seen)

    return app


def serve_of(exercise: ModuleType) -> Callable[[Any], Any]:
    serve = exercise.serve
    expect(callable(serve), "expected `serve` to be a function, used as `async with serve(app)`")
    return serve


def open_serve(serve: Callable[[Any], Any], app: FastAPI) -> Any:
    context = serve(app)
    if not hasattr(context, "__aenter__"):
        raise Failure(
            f"expected serve(app) to be an async context manager, not {type(context).__name__}",
            help="Decorate serve with @contextlib.asynccontextmanager, and yield the client.",
        )
    return context


async def enter(serve: Callable[[Any], Any], app: FastAPI, log: list[str]) -> Any:
    """`async with serve(app) as client` up to the block, which needs the app started."""
    context = open_serve(serve, app)
    with anyio.fail_after(learner_tests.TEST_TIMEOUT_S):
        client = await context.__aenter__()
    if not log:
        await leave(context)
        raise AppStartError(
            "serve(app) began the block without running the app's lifespan "
            "(httpx.ASGITransport never sends the lifespan events)"
        )
    expect_equal("the lifespan's log when the block begins", ["start"], list(log))
    return context, client


async def leave(context: Any, error: BaseException | None = None) -> BaseException | None:
    """Leave the block (raising `error` in it, if given); what came out of serve, if anything."""
    try:
        with anyio.fail_after(learner_tests.TEST_TIMEOUT_S):
            if error is None:
                await context.__aexit__(None, None, None)
            else:
                suppressed = await context.__aexit__(type(error), error, error.__traceback__)
                if not suppressed:
                    return error
    except Exception as exc:
        return exc
    return None


async def test_startup_before_the_block(exercise: ModuleType) -> None:
    """the app has started when the block begins, and its requests see the lifespan's state"""
    log: list[str] = []
    context, client = await enter(serve_of(exercise), probe_app(log), log)
    try:
        response = await client.get("/token")
        expect_equal(
            "GET /token on the probe app", {"token": TOKEN, "log": ["start"]}, response.json()
        )
    finally:
        await leave(context)


async def test_shutdown_after_the_block(exercise: ModuleType) -> None:
    """the app shuts down when the block ends"""
    log: list[str] = []
    context, client = await enter(serve_of(exercise), probe_app(log), log)
    await client.get("/token")
    came_out = await leave(context)
    expect(came_out is None, f"expected a clean block to leave serve quietly, not {came_out!r}")
    expect_equal("the lifespan's log after the block", ["start", "stop"], list(log))


async def test_shutdown_when_the_block_fails(exercise: ModuleType) -> None:
    """when the block raises, the app still shuts down cleanly and the error comes out"""
    log: list[str] = []
    context, _ = await enter(serve_of(exercise), probe_app(log), log)
    planted = Planted("the check's own block fails here, on purpose")
    came_out = await leave(context, planted)
    expect_equal(
        "the lifespan's log after a block that raised",
        ["start", "stop"],
        list(log),
        help=CANCELLED_HELP,
    )
    expect(
        came_out is planted,
        f"expected the block's own error to come out of serve, not {came_out!r}",
        help=SWALLOWED_HELP,
    )


async def test_startup_failure_comes_out(exercise: ModuleType) -> None:
    """a start-up failure comes out of serve as the lifespan raised it, before the block"""
    log: list[str] = []
    planted = Outage("the probe's start-up fails here, on purpose")
    context = open_serve(serve_of(exercise), probe_app(log, fail_start=planted))
    try:
        with anyio.fail_after(learner_tests.TEST_TIMEOUT_S):
            await context.__aenter__()
    except Outage as exc:
        expect(exc is planted, "expected the start-up's own Outage to come out, not a copy")
    except Failure:
        raise
    except Exception as exc:
        raise Failure(
            f"expected the start-up's Outage to come out of serve, not {type(exc).__name__}: {exc}",
            help=SWALLOWED_HELP,
        ) from None
    else:
        await leave(context)
        raise Failure(
            "expected serve to raise the start-up's Outage before the block, but the block began",
            help=NO_LIFESPAN_HELP if not log else SWALLOWED_HELP,
        )


async def test_shutdown_failure_comes_out(exercise: ModuleType) -> None:
    """a shutdown failure comes out of serve once the block is over"""
    log: list[str] = []
    planted = Outage("the probe's shutdown fails here, on purpose")
    context, _ = await enter(serve_of(exercise), probe_app(log, fail_stop=planted), log)
    came_out = await leave(context)
    expect_equal("the lifespan's log after the block", ["start", "stop"], list(log))
    expect(
        came_out is planted,
        f"expected the shutdown's Outage to come out of serve, not {came_out!r}",
        help=SWALLOWED_HELP,
    )


async def test_state_is_copied_per_request(exercise: ModuleType) -> None:
    """each request sees its own shallow copy of the lifespan's state, as under Uvicorn"""
    log: list[str] = []
    context, client = await enter(serve_of(exercise), probe_app(log), log)
    try:
        hits = [(await client.post("/hit")).json() for _ in range(2)]
        seen = [(await client.post("/see")).json() for _ in range(2)]
    finally:
        await leave(context)
    expect_equal(
        "what two requests assigning request.state.hits + 1 answer", [1, 1], hits, help=COPY_HELP
    )
    expect_equal(
        "what two requests appending to a list in the state answer",
        [1, 2],
        seen,
        help=DEEP_COPY_HELP,
    )


# -- the learner's tests, their databases watched ---------------------------------------------


class Databases:
    """Which of a copy's databases are connected, whatever their class: every database a
    test connects must be disconnected by the time the test is over."""

    def __init__(self, copy: Copy) -> None:
        database = getattr(copy.module, "Database", None)
        if not isinstance(database, type):
            raise Failure("expected the given Database class in your file, as it was")
        connect, disconnect = database.connect, database.disconnect
        self.connected: dict[int, Any] = {}  # databases not yet disconnected

        async def watched_connect(db: Any) -> None:
            await connect(db)
            self.connected[id(db)] = db

        async def watched_disconnect(db: Any) -> None:
            await disconnect(db)
            self.connected.pop(id(db), None)

        database.connect = watched_connect
        database.disconnect = watched_disconnect

    def before_test(self) -> None:
        self.connected.clear()

    def after_test(self) -> int:
        return len(self.connected)  # databases left connected


@pytest.fixture(scope="module")
def copies(
    exercise: ModuleType, reference: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Copies[int]:
    """The learner's tests, in the order written, run in copies of their file."""
    return Copies(exercise, reference, tmp_path_factory.mktemp("copies"), Databases)


@pytest.fixture
async def correct(copies: Copies[int]) -> tuple[Copy, Outcome[int]]:
    """The learner's tests against the correct app."""
    copy = copies.of("correct")
    return copy, await copies.outcome(copy)


# -- the client fixture ------------------------------------------------------------------------


async def through_fixtures(
    copy: Copy, body: Callable[[Any, Any], Awaitable[None]]
) -> BaseException | None:
    """Run `body` as a test taking your `client` and `database` fixtures; what it raised."""
    fixtures = learner_tests.fixtures_in(copy.module)
    missing = [name for name in ("client", "database") if name not in fixtures]
    if missing:
        raise Failure(f"expected a fixture named `{missing[0]}` in your file")

    async def test(client: Any, database: Any) -> None:
        await body(client, database)

    return await learner_tests.run(copy.module, test)


def unexpected(error: BaseException | None) -> None:
    if error is not None and not isinstance(error, Planted):
        no_state = isinstance(error, AttributeError) and "'State' object" in str(error)
        raise Failure(
            f"a test using your client fixture raised {type(error).__name__}: {error}",
            help=NO_LIFESPAN_HELP if no_state else None,
        )


async def test_client_gets_a_fresh_app(correct: tuple[Copy, Outcome]) -> None:
    """the client fixture gives each test a new app on a new database"""
    copy, _ = correct
    answers: list[Any] = []

    async def write(client: Any, database: Any) -> None:
        response = await client.put("/notes/fresh", json={"text": "from the first test"})
        answers.append(response.status_code)

    async def read(client: Any, database: Any) -> None:
        answers.append((await client.get("/notes/fresh")).status_code)
        answers.append((await client.get("/stats")).json())

    unexpected(await through_fixtures(copy, write))
    unexpected(await through_fixtures(copy, read))
    expect_equal(
        "PUT in one test, then GET and GET /stats in the next",
        [200, 404, {"served": 2}],
        answers,
        help=FRESH_HELP,
    )


@pytest.mark.parametrize("fails", [False, True], ids=["passing", "failing"])
async def test_client_shuts_down_after_the_test(correct: tuple[Copy, Outcome], fails: bool) -> None:
    """the client's app runs on the database fixture during the test, and shuts down cleanly
    after it, passed or failed"""
    copy, _ = correct
    during: list[list[str]] = []
    databases: list[Any] = []

    async def body(client: Any, database: Any) -> None:
        await client.get("/stats")
        during.append(list(database.events))
        databases.append(database)
        if fails:
            raise Planted("the check's own test fails here, on purpose")

    error = await through_fixtures(copy, body)
    unexpected(error)
    expect_equal(
        "the database fixture's events during the test",
        ["connected", "loaded"],
        during[0],
        help=NO_LIFESPAN_HELP if not during[0] else None,
    )
    expect_equal(
        f"the database fixture's events after a {'failing' if fails else 'passing'} test",
        ["connected", "loaded", "saved", "disconnected"],
        list(databases[0].events),
        help=TEARDOWN_HELP,
    )
    if fails:
        expect(
            isinstance(error, Planted),
            "the test's failure did not reach pytest",
            help=SWALLOWED_HELP,
        )


# -- your tests --------------------------------------------------------------------------------


def test_enough_tests(copies: Copies[Any]) -> None:
    """you wrote at least six tests, each an `async def test_…` taking fixtures of your file"""
    learner_tests.expect_enough(copies.tests, MIN_TESTS)


async def test_pass_on_correct_app(copies: Copies[Any], correct: tuple[Copy, Outcome]) -> None:
    """your tests pass against the correct app"""
    copy, outcome = correct
    learner_tests.expect_all_pass(copies.tests, outcome.errors, copy.describe)


@pytest.mark.stub_may_pass("the stub's harness starts no app at all, so it leaves none running")
async def test_no_app_left_running(copies: Copies[int]) -> None:
    """your tests shut down every app they start, even when they fail"""
    copy = copies.of("broken")
    copy.module.router.routes.clear()  # every request now answers 404: tests fail
    broken = await copies.outcome(copy)
    learner_tests.expect_no_leaks(
        broken,
        lambda count: f"{count} database{'s' if count > 1 else ''} connected",
        help=LEAK_HELP,
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    learner_tests.parametrize_seeded(metafunc, SEEDED)


async def test_catches_bug(
    copies: Copies[int], correct: tuple[Copy, Outcome[int]], seeded: Path, bug: str
) -> None:
    """your tests catch an app that {bug}"""
    _, outcome = correct
    passing = learner_tests.trusted(outcome.errors)
    try:
        copy = copies.seeded(seeded)
    except learner_tests.DoesNotLoad:
        return  # the correct app loads in the same file: this one fails every test at import
    learner_tests.expect_caught((await copies.outcome(copy, passing)).errors, bug)
