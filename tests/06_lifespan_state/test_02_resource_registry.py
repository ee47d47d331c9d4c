"""Hidden suite for 06_lifespan_state/02_resource_registry: opening and closing in order.

The given fake resources write every step to the module's EVENTS and raise the exception
FAULTS maps a step to; each check clears both, scripts the faults it needs, starts and
stops the app with asgi-lifespan's LifespanManager (what reaches it is what reaches a
server) and compares the whole event log.  Records of the "resources" logger are caught
by a handler of the checks' own.
"""

import logging
from collections.abc import Iterator
from types import ModuleType

import anyio
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request

from workbook.testing import (
    Failure,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
)

WAIT_S = 5.0  # a hang guard only: the fakes answer at once
OPENED = ["open database", "open cache", "open client"]
CLOSED = ["close client", "close cache", "close database"]
NAMES = ["database", "cache", "client"]
PROBE = "/probe/state"

REVERSE_HELP = (
    "Are the resources closed in the reverse order of opening? What opened last may "
    "depend on what opened first, so it closes first: an AsyncExitStack does this for you."
)
CLOSE_ALL_HELP = (
    "Does one failed close stop the others? Catch any Exception around each close (not only "
    "some classes of it), log it with logger.exception(...) and go on to the next resource."
)
LEVEL_HELP = (
    "Is each failed close logged at ERROR level, neither lower nor higher? "
    "logger.exception(...) logs at ERROR and attaches the exception."
)
LOG_HELP = (
    'Is each failed close logged on logging.getLogger("resources") with '
    'logger.exception("%s failed to close", name), which records the exception too?'
)
STARTUP_HELP = (
    'Does a failed open become StartupError("<name> failed to start"), raised with '
    "`raise ... from exc` so the resource's own error stays its cause?"
)
UNDO_HELP = (
    "When an open fails, are the resources already open closed, in reverse order, before "
    "the error leaves the lifespan? Register each close only once its open succeeded: the "
    "resource that failed to open was never opened, so it is not closed."
)


NOTHING_CLOSED_HELP = (
    "Is anything closed at all? Code after the lifespan's yield runs at shutdown; open the "
    "resources on an AsyncExitStack (async with around the yield) and it closes them, also "
    "when a later open fails."
)


def log_help(events: list[str], default: str | None = None) -> str | None:
    """The question that fits a wrong event log."""
    closes = [event for event in events if event.startswith("close ")]
    if not closes:
        return NOTHING_CLOSED_HELP
    if len(closes) > 1 and closes == sorted(closes, key=CLOSED[::-1].index):
        return REVERSE_HELP
    return default


class Records(logging.Handler):
    """Every record logged on the "resources" logger during one check."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[tuple[str, BaseException | None]]:
        """(message, exception) of each record at ERROR or above, in order."""
        return [
            (record.getMessage(), record.exc_info[1] if record.exc_info else None)
            for record in self.records
            if record.levelno >= logging.ERROR
        ]


@pytest.fixture
def records(exercise: ModuleType) -> Iterator[Records]:
    """A fresh event log, no faults, and the log records of this check only."""
    exercise.EVENTS.clear()
    exercise.FAULTS.clear()
    logger = logging.getLogger("resources")
    handler, level = Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        exercise.FAULTS.clear()


async def run(app: object) -> BaseException | None:
    """Start the app, stop it; the exception that reached the caller, if one did."""
    try:
        with anyio.fail_after(WAIT_S):
            async with LifespanManager(app):  # type: ignore[arg-type]
                pass
    except Exception as exc:
        return exc
    return None


def expect_no_exception(raised: BaseException | None, when: str) -> None:
    if raised is not None:
        message = f"expected {when} to succeed, but it raised {type(raised).__name__}: {raised}"
        raise Failure(message, help=CLOSE_ALL_HELP)


def expect_logged(expected: list[tuple[str, BaseException]], records: Records) -> None:
    """Exactly these ERROR records: each message with the very exception it carries."""
    actual = records.errors()
    messages = [message for message, _ in actual]
    expect_equal("error messages logged", [message for message, _ in expected], messages)
    levels = [record.levelname for record in records.records if record.levelno >= logging.ERROR]
    expect_equal("levels of the records logged", ["ERROR"] * len(expected), levels, help=LEVEL_HELP)
    for (message, exc), (_, logged) in zip(expected, actual, strict=True):
        if logged is not exc:
            shown = "no exception" if logged is None else f"{type(logged).__name__}({logged})"
            raise Failure(
                f'expected "{message}" to carry {type(exc).__name__}({exc}), not {shown}',
                help=LOG_HELP,
            )


def expect_startup_error(exercise: ModuleType, raised: BaseException | None, name: str) -> None:
    """The caller got StartupError("<name> failed to start") caused by the fault."""
    cause = exercise.FAULTS[f"open {name}"]
    if not isinstance(raised, exercise.StartupError):
        got = "nothing" if raised is None else f"{type(raised).__name__}: {raised}"
        raise Failure(f"expected StartupError at start-up, not {got}", help=STARTUP_HELP)
    expect_equal("StartupError message", f"{name} failed to start", str(raised))
    if raised.__cause__ is not cause:
        raise Failure(
            f"expected the StartupError's __cause__ to be the {type(cause).__name__} "
            f"that opening {name} raised, not {raised.__cause__!r}",
            help=STARTUP_HELP,
        )


async def test_open_then_close_in_reverse(exercise: ModuleType, records: Records) -> None:
    """start-up opens database, cache, client; shutdown closes client, cache, database"""
    raised = await run(exercise.app)
    expect_no_exception(raised, "start-up and shutdown")
    expect_equal("event log", [*OPENED, *CLOSED], exercise.EVENTS, help=log_help(exercise.EVENTS))
    expect_equal("error messages logged", [], records.errors())


@pytest.mark.stub_may_pass("the stub opens the three resources and serves /health")
async def test_requests_see_open_resources(exercise: ModuleType, records: Records) -> None:
    """while the app serves, the state holds the three resources, all open"""
    async with client_for(exercise.app) as client:
        expect_equal("event log at start-up", OPENED, exercise.EVENTS)
        response = await client.get("/health")
    expect_status(response, 200)
    expect_json(response, {"database": True, "cache": True, "client": True})


async def test_state_resources_closed(exercise: ModuleType, records: Records) -> None:
    """the three resources the requests saw are the ones closed at shutdown"""
    seen: dict[str, object] = {}

    async def probe(request: Request) -> None:
        seen.update({name: getattr(request.state, name, None) for name in NAMES})

    app = FastAPI(lifespan=exercise.lifespan)
    app.add_api_route(PROBE, probe, methods=["GET"])
    async with client_for(app) as client:
        expect_status(await client.get(PROBE), 200)
    resources = [seen[name] for name in NAMES]
    expect(
        all(isinstance(resource, exercise.Resource) for resource in resources),
        f"expected three Resource objects in the state, not {resources!r}",
    )
    still_open = [name for name in NAMES if getattr(seen[name], "is_open", True)]
    expect_equal("resources of the state still open after shutdown", [], still_open)


class Jammed(Exception):
    """An error of no usual family: a close may raise any Exception."""


CLOSE_FAULTS = {
    "database": lambda: RuntimeError("database is stuck"),
    "cache": lambda: Jammed("cache is jammed"),
    "client": lambda: ValueError("client closed twice"),
}


@pytest.mark.parametrize("name", NAMES)
async def test_failed_close_logged(exercise: ModuleType, records: Records, name: str) -> None:
    """when {name} fails to close, it is logged, the others still close, shutdown succeeds"""
    fault = CLOSE_FAULTS[name]()
    exercise.FAULTS[f"close {name}"] = fault
    raised = await run(exercise.app)
    expect_no_exception(raised, "shutdown")
    events = exercise.EVENTS
    expect_equal("event log", [*OPENED, *CLOSED], events, help=log_help(events, CLOSE_ALL_HELP))
    expect_logged([(f"{name} failed to close", fault)], records)


async def test_every_failed_close_logged(exercise: ModuleType, records: Records) -> None:
    """when the client and the database both fail to close, each is logged, in closing order"""
    client_fault, database_fault = TimeoutError("client timed out"), OSError("disk gone")
    exercise.FAULTS.update({"close client": client_fault, "close database": database_fault})
    raised = await run(exercise.app)
    expect_no_exception(raised, "shutdown")
    events = exercise.EVENTS
    expect_equal("event log", [*OPENED, *CLOSED], events, help=log_help(events, CLOSE_ALL_HELP))
    expected = [
        ("client failed to close", client_fault),
        ("database failed to close", database_fault),
    ]
    expect_logged(expected, records)


OPEN_FAULTS = {  # any exception counts, not only connection errors
    "database": lambda: ConnectionRefusedError("database refused the connection"),
    "cache": lambda: RuntimeError("cache is read-only"),
    "client": lambda: ValueError("invalid proxy URL"),
}
STARTUP_LOGS = {
    "database": ["open database"],
    "cache": ["open database", "open cache", "close database"],
    "client": [*OPENED, "close cache", "close database"],
}


@pytest.mark.parametrize("name", NAMES)
async def test_failed_open_stops_startup(exercise: ModuleType, records: Records, name: str) -> None:
    """when {name} fails to open: StartupError naming it, and only what opened is closed"""
    exercise.FAULTS[f"open {name}"] = OPEN_FAULTS[name]()
    raised = await run(exercise.app)
    expect_startup_error(exercise, raised, name)
    expect_equal("event log", STARTUP_LOGS[name], exercise.EVENTS, help=UNDO_HELP)
    expect_equal("error messages logged", [], records.errors())


async def test_startup_error_wins(exercise: ModuleType, records: Records) -> None:
    """when the client fails to open and the database then fails to close, StartupError wins"""
    exercise.FAULTS["open client"] = ConnectionRefusedError("client refused the connection")
    close_fault = exercise.FAULTS["close database"] = OSError("disk gone")
    raised = await run(exercise.app)
    expect_startup_error(exercise, raised, "client")
    expected_log = [*OPENED, "close cache", "close database"]
    expect_equal("event log", expected_log, exercise.EVENTS, help=UNDO_HELP)
    expect_logged([("database failed to close", close_fault)], records)


async def test_fresh_start_after_failure(exercise: ModuleType, records: Records) -> None:
    """after a failed start-up, the next start opens all three again"""
    exercise.FAULTS["open cache"] = ConnectionRefusedError("cache refused the connection")
    await run(exercise.app)
    exercise.FAULTS.clear()
    exercise.EVENTS.clear()
    raised = await run(exercise.app)
    expect_no_exception(raised, "the second start")
    expect_equal("event log of the second start", [*OPENED, *CLOSED], exercise.EVENTS)
