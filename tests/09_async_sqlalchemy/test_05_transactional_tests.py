"""Hidden checks for 09_async_sqlalchemy/05_transactional_tests.

The learner writes fixtures that run each test inside one database transaction, rolled
back at its end (`session`, `client`, on an `engine` and a `connection` of their own), and
tests of a given shop app.  The fixtures are graded by probe tests of these checks, run
through them the way pytest would: what a probe writes, even what the app commits, must be
seen inside the test and gone after it, in the database itself (read through a connection
of the checks' own); the app's rollback of a failed commit must not end the test's
transaction; what a request does not commit must be gone when it ends, as in production;
overrides and connections must be put back and closed.  The tests are graded as in 03/05
and 06/05: the checks run them themselves, in a copy of the learner's file whose app under
test (the lines between the marker comments) is the reference's, where every test must pass
(in the order written, and again on another database in reverse order, then in order), or a
bug-seeded one (a diff of the reference, in seeded/), where at least one test that passes on
the correct app must fail.  Every check that runs the learner's code gets a fresh database
(`database_url`).
"""

import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import anyio
import pytest
from fastapi import Depends
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool, Pool

from workbook import learner_tests
from workbook.learner_tests import Copies, Copy, Outcome
from workbook.services import DATABASE_URL
from workbook.testing import (
    HANG_GUARD,
    Failure,
    expect,
    expect_json,
    expect_status,
    response_json,
)

SEEDED = sorted((Path(__file__).parent / "seeded").glob("*.diff"))
MIN_TESTS = 6
TABLES = ("products", "orders")
PROBE = {"sku": "probe", "name": "Probe lamp", "stock": 3}

ROLLBACK_HELP = (
    "Does the connection fixture begin a transaction before the test and roll it back after "
    'it? Are the sessions joined to it with join_transaction_mode="create_savepoint"? On '
    'SQLite, does your engine send BEGIN itself (its "connect" and "begin" events)? '
    "Without it, the first SAVEPOINT opens the transaction, and releasing it commits."
)
SAVEPOINT_HELP = (
    'Are the sessions joined with join_transaction_mode="create_savepoint"? Joined any other '
    "way, the app's rollback of a failed commit rolls back the test's whole transaction, and "
    "what the test writes after it is committed for real."
)
PER_REQUEST_HELP = (
    "Do all the requests of a test share one session? Then what a request leaves "
    "uncommitted, or a failed commit, is still in it for the next request. Give each request "
    "a session of its own, joined to the test's connection like `session`, and close it when "
    "the request ends, as get_session does in production."
)
SHARED_HELP = (
    "Are the client's sessions and the session fixture bound to the same connection, the "
    "test's? A session on another connection works in another transaction, and commits "
    "there only release a savepoint that nobody else can see."
)
NO_OVERRIDE_HELP = (
    "Does the client fixture override get_session? The app's own get_session uses the "
    "sessions its lifespan makes, which never ran."
)
RESTORE_HELP = (
    "Does the client fixture put back a copy of app.dependency_overrides taken before the "
    "test? dict(app.dependency_overrides) copies it; clear() alone forgets the overrides "
    "that were there before."
)
CLOSE_HELP = (
    "Does the engine fixture dispose of its engine after the test (await engine.dispose()), "
    "and is every connection and session closed (`async with ...`)?"
)
LEFTOVER_HELP = (
    "Does a test write through an engine or a session of its own, or set "
    "app.dependency_overrides itself? Write through the fixtures: their teardown runs "
    "whether the test passed or failed."
)
ORDER_HELP = (
    "Does one test depend on what another wrote, or on ids? Every test starts from an empty "
    "database, and the ids the database gives are not promised (on PostgreSQL a rolled-back "
    "insert still uses up its id)."
)
# a mistake in the learner's fixtures can leave connections or coroutines to the garbage
# collector, which warns during some later check: the checks report the mistake itself (an
# open connection, a failing test), so the warning must not fail an unrelated check
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:The garbage collector is trying to clean up"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]
EXPIRE_HELP = (
    "Do your sessions expire their objects on commit? The app answers from the product it "
    "has just committed; an expired one would be loaded again, which asyncio cannot do "
    "there. Make every session with expire_on_commit=False, as the app makes its own."
)
ERROR_HELP = {  # a clue in an error the learner's fixtures raised: the usual mistake
    "no attribute 'sessions'": NO_OVERRIDE_HELP,
    "PendingRollbackError": PER_REQUEST_HELP,
    "greenlet_spawn has not been called": EXPIRE_HELP,
    "deassociated from connection": SAVEPOINT_HELP,
}
ROUNDS = ("in reverse order", "then in the order written, on the same database")


# -- what a test leaves behind ---------------------------------------------------------------


class OpenConnections:
    """The database connections of every engine in this process that are still open."""

    def __init__(self) -> None:
        self.open: set[int] = set()

    def opened(self, dbapi_connection: Any, record: Any) -> None:
        self.open.add(id(dbapi_connection))

    def closed(self, dbapi_connection: Any, *record: Any) -> None:
        self.open.discard(id(dbapi_connection))

    def listen(self) -> None:
        event.listen(Pool, "connect", self.opened)
        event.listen(Pool, "close", self.closed)
        event.listen(Pool, "close_detached", self.closed)

    def remove(self) -> None:
        event.remove(Pool, "connect", self.opened)
        event.remove(Pool, "close", self.closed)
        event.remove(Pool, "close_detached", self.closed)


class Leftovers:
    """What a test left behind in one copy: overrides changed, connections still open.

    The overrides are put back after each test, so one test's leak never decides another's
    verdict.  Rows are counted by :func:`run_counting`, which needs the database.
    """

    def __init__(self, copy: Copy, connections: OpenConnections) -> None:
        self.app = copy.module.app
        self.connections = connections
        self.overrides: dict[Any, Any] = {}
        self.was_open: set[int] = set()

    def before_test(self) -> None:
        self.overrides = dict(self.app.dependency_overrides)
        self.was_open = set(self.connections.open)

    def after_test(self) -> list[str]:
        left = []
        changed = sorted(
            getattr(key, "__name__", repr(key))
            for key in self.overrides | self.app.dependency_overrides
            if self.overrides.get(key) is not self.app.dependency_overrides.get(key)
        )
        if changed:
            left.append(f"app.dependency_overrides changed for {', '.join(changed)}")
        self.app.dependency_overrides.clear()
        self.app.dependency_overrides.update(self.overrides)
        if still_open := len(self.connections.open - self.was_open):
            left.append(plural(still_open, "database connection") + " open")
        return left


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


async def rows_in_database() -> dict[str, int]:
    """The rows of the app's tables, read through a connection of these checks' own."""
    engine = create_async_engine(os.environ[DATABASE_URL], poolclass=NullPool)
    try:
        with anyio.fail_after(HANG_GUARD):
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
                return {
                    table: await connection.scalar(text(f"SELECT count(*) FROM {table}"))
                    for table in TABLES
                    if table in names
                }
    finally:
        await engine.dispose()


def rows_left(before: dict[str, int], after: dict[str, int]) -> list[str]:
    return [
        f"{plural(after[table] - before.get(table, 0), 'row')} in {table}"
        for table in after
        if after[table] > before.get(table, 0)
    ]


async def run_counting(copy: Copy, names: list[str], *, rows: bool) -> Outcome[list[str]]:
    """Run the learner's tests in order in ``copy``; each one's leftovers, rows included."""
    tests = learner_tests.defined_tests(copy.module)
    outcome: Outcome[list[str]] = Outcome()
    for name in names:
        before = await rows_in_database() if rows else {}
        assert copy.watch is not None
        copy.watch.before_test()
        outcome.errors[name] = await learner_tests.run(copy.module, tests[name])
        left = copy.watch.after_test()
        if rows:
            left = rows_left(before, await rows_in_database()) + left
        if left:
            outcome.leaks[name] = left
    return outcome


# -- fixtures of these checks ------------------------------------------------------------------


@pytest.fixture(scope="module")
def connections() -> Iterator[OpenConnections]:
    tracker = OpenConnections()
    tracker.listen()
    yield tracker
    tracker.remove()


@dataclass
class Graded:
    copies: Copies[list[str]]
    correct: Outcome[list[str]] | None = None


@pytest.fixture(scope="module")
def graded(
    exercise: ModuleType,
    reference: ModuleType,
    connections: OpenConnections,
    tmp_path_factory: pytest.TempPathFactory,
) -> Graded:
    """The learner's tests, run in copies of their file."""
    folder = tmp_path_factory.mktemp("copies")
    return Graded(Copies(exercise, reference, folder, lambda copy: Leftovers(copy, connections)))


@pytest.fixture
async def correct(graded: Graded, database_url: str) -> Outcome[list[str]]:
    """The learner's tests against the correct app, in the order written, rows counted."""
    if graded.correct is None:
        copy = graded.copies.of("correct")
        graded.correct = await run_counting(copy, graded.copies.tests, rows=True)
    return graded.correct


# -- probes: tests of these checks, run through the learner's fixtures -------------------------


class Planted(AssertionError):
    """The assertion a probe fails with on purpose, to see what the fixtures do then."""


Body = Callable[[ModuleType, Any, Any], Awaitable[None]]


def probe_copy(graded: Graded) -> Copy:
    """A copy with the correct app, plus a route that writes without committing."""
    copy = graded.copies.of("probe")
    module = copy.module
    if not any(getattr(route, "path", "") == "/probe/uncommitted" for route in module.app.routes):

        async def uncommitted(session: Annotated[Any, Depends(module.get_session)]) -> None:
            session.add(module.Product(sku="uncommitted", name="Never committed", stock=1))
            await session.flush()

        module.app.post("/probe/uncommitted", status_code=204)(uncommitted)
    return copy


async def through_fixtures(copy: Copy, body: Body) -> BaseException | None:
    """Run ``body`` as a test taking your `client` and `session` fixtures; what it raised.

    A failure of the probe itself (a Failure) comes out as the check's failure.
    """
    fixtures = learner_tests.fixtures_in(copy.module)
    missing = [name for name in ("client", "session") if name not in fixtures]
    if missing:
        raise Failure(f"expected a fixture named `{missing[0]}` in your file")

    async def test(client: Any, session: Any) -> None:
        await body(copy.module, client, session)

    error = await learner_tests.run(copy.module, test)
    if isinstance(error, Failure):
        raise error
    return error


def unexpected(error: BaseException | None) -> None:
    """Report an error of the learner's fixtures (not a probe's own Planted failure)."""
    if error is not None and not isinstance(error, Planted):
        said = f"{type(error).__name__}: {error}"
        raise Failure(f"a test using your fixtures raised {said}", help=help_for(said))


def help_for(said: str) -> str | None:
    """The usual mistake behind an error the learner's fixtures raised, as a question."""
    for clue, help in ERROR_HELP.items():
        if clue in said:
            return help
    return None


async def write_both_ways(module: ModuleType, client: Any, session: Any) -> None:
    """A product committed by the app, another by the test's session."""
    response = await client.post("/products", json=PROBE)
    expect_status(response, 201)
    session.add(module.Product(sku="seeded", name="Seeded lamp", stock=1))
    await session.commit()


def expect_no_rows(rows: dict[str, int], after: str) -> None:
    left = rows_left({}, rows)
    expect(
        not left,
        f"expected the database to be empty {after}, but it held {' and '.join(left)}",
        help=ROLLBACK_HELP,
    )


@pytest.mark.stub_may_pass(
    "the stub's fixtures share one connection, only with no transaction to roll back"
)
async def test_test_and_app_share_a_transaction(graded: Graded, database_url: str) -> None:
    """the app's requests see what your test commits through `session`, and `session` sees
    what the app commits"""
    seen: dict[str, Any] = {}

    async def body(module: ModuleType, client: Any, session: Any) -> None:
        session.add(module.Product(sku="seeded", name="Seeded lamp", stock=1))
        await session.commit()
        seen["app"] = await client.get("/products/seeded")
        expect_status(await client.post("/products", json=PROBE), 201)
        query = select(module.Product.name).where(module.Product.sku == PROBE["sku"])
        seen["session"] = await session.scalar(query)

    unexpected(await through_fixtures(probe_copy(graded), body))
    expect_status(seen["app"], 200, help=SHARED_HELP)
    expect(
        seen["session"] == PROBE["name"],
        "expected `session` to find the product the app had just committed, but it found nothing",
        help=SHARED_HELP,
    )


async def test_each_test_rolls_back(graded: Graded, database_url: str) -> None:
    """nothing a test writes, even what the app commits, is left in the database or seen by
    the next test"""
    copy = probe_copy(graded)
    unexpected(await through_fixtures(copy, write_both_ways))
    expect_no_rows(await rows_in_database(), "after a test that wrote two products")
    found: dict[str, Any] = {}

    async def next_test(module: ModuleType, client: Any, session: Any) -> None:
        found["app"] = await client.get("/products")
        found["session"] = await session.scalar(select(func.count()).select_from(module.Product))

    unexpected(await through_fixtures(copy, next_test))
    expect_json(found["app"], [], help=ROLLBACK_HELP)
    expect(
        found["session"] == 0,
        "expected `session` to find no product in the next test",
        help=ROLLBACK_HELP,
    )


async def test_failed_test_rolls_back(graded: Graded, database_url: str) -> None:
    """nothing a failing test wrote is left in the database"""

    async def body(module: ModuleType, client: Any, session: Any) -> None:
        await write_both_ways(module, client, session)
        raise Planted("the check's own test fails here, on purpose")

    error = await through_fixtures(probe_copy(graded), body)
    unexpected(error)
    expect(isinstance(error, Planted), "the test's failure did not reach pytest")
    expect_no_rows(await rows_in_database(), "after a failing test that wrote two products")


async def test_app_rollback_keeps_the_test_going(graded: Graded, database_url: str) -> None:
    """when the app rolls back a failed commit, the test keeps what it wrote before, and what
    it writes after still rolls back"""
    answers: dict[str, Any] = {}

    async def body(module: ModuleType, client: Any, session: Any) -> None:
        expect_status(await client.post("/products", json=PROBE), 201)
        # the app rolls back, then reads the product that holds the SKU
        answers["taken"] = await client.post("/products", json=PROBE | {"name": "Twin"})
        answers["kept"] = await client.get(f"/products/{PROBE['sku']}")
        answers["after"] = await client.post("/products", json=PROBE | {"sku": "after"})

    error = await through_fixtures(probe_copy(graded), body)
    for name, status in (("taken", 409), ("kept", 200), ("after", 201)):
        if name in answers:  # an answer that went wrong explains a teardown that then fails
            expect_status(answers[name], status, help=SAVEPOINT_HELP)
    unexpected(error)
    expect_no_rows(
        await rows_in_database(), "after a test in which the app rolled back a failed commit"
    )


async def test_uncommitted_work_is_dropped(graded: Graded, database_url: str) -> None:
    """what a request does not commit is gone when the request ends, as in production"""
    answers: list[Any] = []

    async def body(module: ModuleType, client: Any, session: Any) -> None:
        expect_status(await client.post("/probe/uncommitted"), 204)
        answers.append(await client.get("/products/uncommitted"))

    unexpected(await through_fixtures(probe_copy(graded), body))
    response = answers[0]
    if response.status_code == 200:
        raise Failure(
            "a product that a request flushed but never committed was still found by the next "
            "request (status 200, not 404): in production, closing the request's session drops "
            "it",
            help=PER_REQUEST_HELP,
        )
    expect_status(response, 404)


@pytest.mark.stub_may_pass("the stub's client puts the overrides back and closes what it opens")
@pytest.mark.parametrize("fails", [False, True], ids=["passing", "failing"])
async def test_fixtures_leave_nothing(graded: Graded, database_url: str, fails: bool) -> None:
    """after a test, passed or failed, app.dependency_overrides holds what it held before and
    every database connection is closed"""
    copy = probe_copy(graded)
    module = copy.module
    assert copy.watch is not None

    async def stand_in() -> None:
        """An override in place before the test: the checks compare it by identity."""

    async def unrelated() -> None:
        """A dependency overridden before the test, which the test never touches."""

    async def body(module: ModuleType, client: Any, session: Any) -> None:
        response = await client.get("/products")
        expect_status(response, 200)
        response_json(response)
        if fails:
            raise Planted("the check's own test fails here, on purpose")

    before = {module.get_session: stand_in, unrelated: stand_in}
    module.app.dependency_overrides.update(before)
    try:
        copy.watch.before_test()
        error = await through_fixtures(copy, body)
        overrides = dict(module.app.dependency_overrides)
        left = copy.watch.after_test()
    finally:
        module.app.dependency_overrides.clear()
    unexpected(error)
    expect(
        overrides == before,
        "expected app.dependency_overrides to hold what it held before the test (an override "
        "of get_session, and another)",
        help=RESTORE_HELP,
    )
    open_ones = [item for item in left if item.endswith(" open")]
    expect(not open_ones, f"after the test, {' and '.join(open_ones)}", help=CLOSE_HELP)


# -- your tests ----------------------------------------------------------------------------------


def test_enough_tests(graded: Graded) -> None:
    """you wrote at least six tests, each an `async def test_…` taking fixtures of your file"""
    learner_tests.expect_enough(graded.copies.tests, MIN_TESTS)


@pytest.mark.stub_may_pass("the stub's one example test passes against the correct app")
async def test_pass_on_correct_app(graded: Graded, correct: Outcome[list[str]]) -> None:
    """your tests pass against the correct app"""
    copy = graded.copies.of("correct")
    learner_tests.expect_all_pass(graded.copies.tests, correct.errors, copy.describe)


async def test_pass_in_any_order_twice(graded: Graded, correct: Outcome[list[str]]) -> None:
    """your tests pass twice on one database: in reverse order, then in the order written"""
    learner_tests.trusted(correct.errors)
    copy = graded.copies.of("again")
    tests = graded.copies.tests
    failed = []
    for when, names in zip(ROUNDS, (tests[::-1], tests), strict=True):
        outcome = await run_counting(copy, names, rows=False)
        failed += [
            f"{when}: {copy.describe(name, error)}"
            for name, error in outcome.errors.items()
            if error is not None and correct.errors.get(name) is None
        ]
    if failed:
        raise Failure("\n".join(failed), help=ORDER_HELP)


async def test_tests_leave_nothing(correct: Outcome[list[str]]) -> None:
    """your tests leave no row, no override and no open connection behind"""
    learner_tests.expect_no_leaks(correct, ", ".join, help=LEFTOVER_HELP)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    learner_tests.parametrize_seeded(metafunc, SEEDED)


async def test_catches_bug(
    graded: Graded,
    correct: Outcome[list[str]],
    database_url: str,
    seeded: Path,
    bug: str,
) -> None:
    """your tests catch an app that {bug}"""
    passing = learner_tests.trusted(correct.errors)
    try:
        copy = graded.copies.seeded(seeded)
    except learner_tests.DoesNotLoad:
        return  # the correct app loads in the same file: this one fails every test at import
    learner_tests.expect_caught((await graded.copies.outcome(copy, passing)).errors, bug)
