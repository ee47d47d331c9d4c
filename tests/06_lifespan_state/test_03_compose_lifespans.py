"""Hidden suite for 06_lifespan_state/03_compose_lifespans: composing lifespans.

`combine` is driven directly with lifespans of the checks' own, which write what happens
to them into one log: "a enter", "a saw RuntimeError" (an error reached its exit),
"a exit".  The checks enter the combined lifespan with `async with`, as Starlette does;
the app itself is started with asgi-lifespan's LifespanManager.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from workbook.testing import Failure, client_for, expect_equal, expect_json, expect_status

LifespanFn = Callable[[Any], Any]

ORDER_HELP = (
    "Are the lifespans entered in the order given and exited in the reverse order? "
    "Entering each on one AsyncExitStack (or nesting async with blocks) does both."
)
SEEN_HELP = (
    "Does each exit hear about the error? An AsyncExitStack (or nested async with) passes "
    "the exception to every lifespan it unwinds; a finally that calls __aexit__(None, None, "
    "None) hides it."
)
MERGE_HELP = (
    "Is the state one dict holding every key the lifespans yielded? A lifespan that yields "
    "None adds nothing, and the result is a dict even when nothing was yielded."
)
CLASH_HELP = (
    "Is a key that two lifespans yield refused? Compare each new state's keys with the "
    "keys merged so far before merging: dict.update would let the later one win."
)
RESTART_HELP = (
    "Is anything kept between two runs of the combined lifespan? Make the merged dict "
    "inside the function that runs at each start, not in combine itself."
)
UNTOUCHED_HELP = (
    "Does the merge write into a dict that a lifespan yielded? Start from a new dict of "
    "your own and update it."
)
CALLED_HELP = (
    "Are all the lifespans called before the first is entered? Call each one with the app "
    "just before entering it: a lifespan after one that failed to start is never called."
)
SORTED_HELP = 'Are the repeated keys sorted, then joined with ", "?'
APP_HELP = (
    "Is the app built with FastAPI(lifespan=combine(metrics_lifespan, lifespan)), the "
    "library's lifespan first?"
)


class Log(list[str]):
    """What the checks' lifespans did, in order."""


def recording(
    name: str,
    log: Log,
    state: Any = None,
    *,
    fail_start: Exception | None = None,
    fail_exit: Exception | None = None,
    apps: list[Any] | None = None,
) -> LifespanFn:
    """A lifespan that logs its entry, any error that reaches its exit, and its exit."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        log.append(f"{name} enter")
        if apps is not None:
            apps.append(app)
        if fail_start is not None:
            raise fail_start
        try:
            yield state
        except Exception as exc:
            log.append(f"{name} saw {type(exc).__name__}")
            raise
        finally:
            log.append(f"{name} exit")
            if fail_exit is not None:
                raise fail_exit

    return lifespan


async def run(combined: LifespanFn, log: Log, app: Any = None) -> Any:
    """Enter and leave the combined lifespan once, as Starlette would; its state."""
    async with combined(app if app is not None else FastAPI()) as state:
        log.append("serving")
        return state


async def raised_by(combined: LifespanFn, log: Log, inside: Exception | None = None) -> Any:
    """The exception that leaves one run of the combined lifespan, or a failure if none."""
    try:
        async with combined(FastAPI()):
            log.append("serving")
            if inside is not None:
                raise inside
    except Exception as exc:
        return exc
    raise Failure("expected an exception to reach the caller, but none did")


def expect_same_error(expected: Exception, actual: Exception, help: str | None = None) -> None:
    """The very exception instance reached the caller, neither wrapped nor replaced."""
    if actual is not expected:
        raise Failure(
            f"expected the caller to get {type(expected).__name__}({expected}) as raised, "
            f"not {type(actual).__name__}({actual})",
            help=help,
        )


async def test_enter_in_order_exit_in_reverse(exercise: ModuleType) -> None:
    """combine(a, b, c) enters a, b, c in that order and exits c, b, a"""
    log = Log()
    names = ("a", "b", "c")
    combined = exercise.combine(*(recording(name, log) for name in names))
    await run(combined, log)
    expected = ["a enter", "b enter", "c enter", "serving", "c exit", "b exit", "a exit"]
    expect_equal("lifespan log", expected, log, help=ORDER_HELP)


async def test_each_gets_the_app(exercise: ModuleType) -> None:
    """every lifespan is called with the app the combined lifespan runs for"""
    log, apps, app = Log(), [], FastAPI()
    combined = exercise.combine(recording("a", log, apps=apps), recording("b", log, apps=apps))
    await run(combined, log, app)
    expect_equal("lifespans called", 2, len(apps))
    if not all(got is app for got in apps):
        raise Failure("expected each lifespan to be called with the app being started")


async def test_states_merged(exercise: ModuleType) -> None:
    """the states are merged into one dict; a lifespan that yields None adds nothing"""
    log = Log()
    combined = exercise.combine(
        recording("a", log, {"db": "a-db"}),
        recording("b", log, None),
        recording("c", log, {"count": 0, "name": "", "flags": []}),
    )
    state = await run(combined, log)
    expected = {"db": "a-db", "count": 0, "name": "", "flags": []}
    expect_equal("merged state", expected, state, help=MERGE_HELP)


NOTHING = {
    "no lifespans at all": (),
    "one lifespan yielding None": (None,),
    "two lifespans yielding None": (None, None),
    "{} and None": ({}, None),
}


@pytest.mark.parametrize("case", NOTHING)
async def test_nothing_yielded(exercise: ModuleType, case: str) -> None:
    """with {case}, the combined lifespan yields an empty dict"""
    log = Log()
    lifespans = [recording(f"l{i}", log, state) for i, state in enumerate(NOTHING[case])]
    state = await run(exercise.combine(*lifespans), log)
    if type(state) is not dict:
        raise Failure(f"expected the combined state to be a dict, not {state!r}", help=MERGE_HELP)
    expect_equal("combined state", {}, state)


async def test_yielded_dicts_untouched(exercise: ModuleType) -> None:
    """the dicts the lifespans yield are left as they were"""
    log = Log()
    first, second = {"db": 1}, {"cache": 2}
    combined = exercise.combine(recording("a", log, first), recording("b", log, second))
    state = await run(combined, log)
    expect_equal("merged state", {"db": 1, "cache": 2}, state)
    expect_equal("dicts yielded", [{"db": 1}, {"cache": 2}], [first, second], help=UNTOUCHED_HELP)


CLASHES = {
    "one key": ([{"db": 1}, {"db": 2}], "db", ["a", "b"]),
    "two keys, yielded in another order": (
        [{"db": 1, "cache": 1}, {"db": 2, "cache": 2}],
        "cache, db",
        ["a", "b"],
    ),
    "two keys, not next to each other": (
        [{"db": 1, "cache": 1}, {"http": 1}, {"cache": 2, "x": 0, "db": 2}],
        "cache, db",
        ["a", "b", "c"],
    ),
}


@pytest.mark.parametrize("case", CLASHES)
async def test_clashing_keys(exercise: ModuleType, case: str) -> None:
    """a key yielded twice ({case}) stops start-up with ValueError after exiting all entered"""
    states, keys, entered = CLASHES[case]
    log = Log()
    lifespans = [recording(name, log, state) for name, state in zip("abc", states, strict=False)]
    combined = exercise.combine(*lifespans, recording("late", log, {"late": 1}))
    raised = await raised_by(combined, log)
    if not isinstance(raised, ValueError):
        message = f"expected ValueError, not {type(raised).__name__}({raised})"
        raise Failure(message, help=CLASH_HELP)
    message = f"state keys yielded twice: {keys}"
    expect_equal("ValueError message", message, str(raised), help=SORTED_HELP)
    expected = [f"{name} enter" for name in entered]
    for name in reversed(entered):
        expected += [f"{name} saw ValueError", f"{name} exit"]
    expect_equal("lifespan log", expected, log, help=SEEN_HELP)


def calls_logged(name: str, calls: list[str], lifespan: LifespanFn) -> LifespanFn:
    """`lifespan`, noting its name in `calls` each time it is called (before it is entered)."""

    def called(app: Any) -> Any:
        calls.append(name)
        return lifespan(app)

    return called


async def test_failed_start_exits_the_first(exercise: ModuleType) -> None:
    """when b fails to start, a exits (seeing the error), c is never called, the error goes on"""
    log, calls, error = Log(), [], RuntimeError("b broke")
    combined = exercise.combine(
        calls_logged("a", calls, recording("a", log, {"a": 1})),
        calls_logged("b", calls, recording("b", log, fail_start=error)),
        calls_logged("c", calls, recording("c", log, {"c": 1})),
    )
    raised = await raised_by(combined, log)
    expect_same_error(error, raised)
    expected = ["a enter", "b enter", "a saw RuntimeError", "a exit"]
    expect_equal("lifespan log", expected, log, help=SEEN_HELP)
    expect_equal("lifespans called", ["a", "b"], calls, help=CALLED_HELP)


async def test_error_while_running(exercise: ModuleType) -> None:
    """an error raised while they run reaches b's exit, then a's, then the caller"""
    log, error = Log(), KeyError("lost")
    combined = exercise.combine(recording("a", log, {"a": 1}), recording("b", log, {"b": 1}))
    raised = await raised_by(combined, log, inside=error)
    expect_same_error(error, raised)
    expected = ["a enter", "b enter", "serving", "b saw KeyError", "b exit", "a saw KeyError"]
    expect_equal("lifespan log", [*expected, "a exit"], log, help=SEEN_HELP)


async def test_failed_exit_still_exits_the_rest(exercise: ModuleType) -> None:
    """when b fails to exit, a still exits, seeing b's error, which reaches the caller"""
    log, error = Log(), OSError("flush failed")
    combined = exercise.combine(recording("a", log), recording("b", log, fail_exit=error))
    raised = await raised_by(combined, log)
    expect_same_error(error, raised)
    expected = ["a enter", "b enter", "serving", "b exit", "a saw OSError", "a exit"]
    expect_equal("lifespan log", expected, log, help=SEEN_HELP)


async def test_two_failed_exits(exercise: ModuleType) -> None:
    """when a and c both fail to exit, the caller gets a's error: a exits last"""
    log = Log()
    first, last = RuntimeError("a failed"), OSError("c failed")
    combined = exercise.combine(
        recording("a", log, fail_exit=first),
        recording("b", log),
        recording("c", log, fail_exit=last),
    )
    raised = await raised_by(combined, log)
    expect_same_error(first, raised)
    expected = ["a enter", "b enter", "c enter", "serving", "c exit", "b saw OSError", "b exit"]
    expect_equal("lifespan log", [*expected, "a saw OSError", "a exit"], log, help=SEEN_HELP)


async def test_runs_again(exercise: ModuleType) -> None:
    """the combined lifespan can run twice in a row: each run enters every lifespan anew"""
    log = Log()
    combined = exercise.combine(recording("a", log, {"a": 1}), recording("b", log, {"b": 2}))
    first = await run(combined, log)
    expect_equal("state of the first run", {"a": 1, "b": 2}, first, help=MERGE_HELP)
    second = await run(combined, log)
    expect_equal("state of the second run", {"a": 1, "b": 2}, second, help=RESTART_HELP)
    once = ["a enter", "b enter", "serving", "b exit", "a exit"]
    expect_equal("lifespan log", once + once, log)


async def test_app_runs_both(exercise: ModuleType) -> None:
    """the app starts the metrics library, then its database; shutdown is the reverse"""
    exercise.EVENTS.clear()
    async with LifespanManager(exercise.app):
        started = list(exercise.EVENTS)
    expect_equal(
        "events at start-up", ["metrics start", "database connect"], started, help=APP_HELP
    )
    expected = [*started, "database disconnect", "metrics flush"]
    expect_equal("events", expected, exercise.EVENTS, help=APP_HELP)


async def test_app_requests_see_both(exercise: ModuleType) -> None:
    """GET /ping sees the library's metrics and the app's database in the request's state"""
    async with client_for(exercise.app, raise_app_exceptions=False) as client:
        first, second = await client.get("/ping"), await client.get("/ping")
    expect_status(first, 200, help=APP_HELP)
    expect_json(first, {"pings": 1, "database": "sqlite:///notes.db"})
    expect_json(second, {"pings": 2, "database": "sqlite:///notes.db"})
