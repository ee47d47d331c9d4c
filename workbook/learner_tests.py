"""Run a learner's own tests the way pytest would, for the "write the tests" exercises.

In these exercises the learner's file holds an app under test, between the two
:data:`MARKERS` comments, and below it the learner's pytest tests and fixtures.  A suite
grades the tests by running them itself: each test with the fixtures its parameters name
(the learner's own, and ``monkeypatch``), set up before it and torn down after it, passed
or failed, within :data:`TEST_TIMEOUT_S`.  It runs them in copies of the learner's file
whose app under test is replaced (:class:`Copies`): by the reference's app, where every
test must pass, or by a bug-seeded one, where a test that passes on the correct app must
fail.  What a suite watches beyond the verdicts (overrides left behind, databases left
connected) it plugs in as a :class:`Watch`; its other checks stay in the suite.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sized
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, Protocol, TypeVar

import anyio
import pytest
from _pytest.fixtures import FixtureFunctionDefinition

from workbook import variants
from workbook.loader import LoadError, load
from workbook.plugin import seeded_apps
from workbook.testing import Failure, expect

MARKERS = ("# --- the app under test", "# --- the tests")
TEST_TIMEOUT_S = 2.0  # for one learner test, and again for its fixtures' teardown
BUILT_IN = "monkeypatch"  # the one pytest fixture the checks provide
LEARNER_FAILURES = (Exception, pytest.fail.Exception, pytest.skip.Exception)

MARKERS_MOVED = (
    f"expected the marker comments {MARKERS[0]!r} and {MARKERS[1]!r} once each, in that order"
)
MARKERS_HELP = "Did you remove or copy a marker comment? The checks put other apps between them."
COPY_DOES_NOT_LOAD = "your file, with the app under test put back, does not load: {}"
MISSHAPEN = (
    "expected every test to be an `async def test_…` whose parameters are fixtures of your "
    "file (or monkeypatch), unlike {}"
)
MISSHAPEN_HELP = (
    "Does a test ask for a pytest fixture such as tmp_path, or is it a plain def? The checks "
    "provide only your own fixtures and monkeypatch."
)
NO_TESTS = "expected at least one test, not 0"
TOO_FEW = "expected at least {} tests, not {}"
FAILED_HELP = "Does the failing test expect something the contract does not promise?"
NONE_TRUSTED = "none of your tests passes against the correct app, so none can catch a bug"
NOT_CAUGHT = "none of your tests that pass against the correct app failed against an app that {}"

L = TypeVar("L")
L_co = TypeVar("L_co", covariant=True)
Errors = Mapping[str, BaseException | None]  # what each test raised (None: it passed)


# -- copies of the learner's file with another app under test ------------------------------


def markers(source: str) -> tuple[int, int]:
    """The 0-based lines of the two marker comments."""
    lines = source.splitlines()
    found = [[n for n, line in enumerate(lines) if line.startswith(mark)] for mark in MARKERS]
    if any(len(where) != 1 for where in found) or found[0] > found[1]:
        raise Failure(MARKERS_MOVED, help=MARKERS_HELP)
    return found[0][0], found[1][0]


class Watch(Protocol[L_co]):
    """What a suite watches in one copy around each learner test, beyond its verdict."""

    def before_test(self) -> None: ...

    def after_test(self) -> L_co:
        """What the test left behind (falsy: nothing), with things put back for the next."""
        ...


@dataclass
class Copy:
    """The learner's file, loaded with another app under test."""

    module: ModuleType
    path: Path
    tests_start: int  # 1-based line where the tests begin in the copy
    offset: int  # how many lines lower the tests sit than in the learner's file
    watch: Watch[Any] | None = None

    def learner_line(self, line: int) -> int:
        return line - self.offset if line >= self.tests_start else line

    def describe(self, name: str, exc: BaseException) -> str:
        """How a test failed in this copy, at the line of the learner's own file."""
        return describe(name, exc, self.path, self.learner_line)


class DoesNotLoad(Failure):
    """A copy of the learner's file that cannot be imported."""


@dataclass
class Outcome(Generic[L]):
    """What each learner test did against one copy."""

    errors: dict[str, BaseException | None] = field(default_factory=dict)
    leaks: dict[str, L] = field(default_factory=dict)  # what each test left behind, if anything


class Copies(Generic[L]):
    """The learner's tests, run in copies of their file with other apps under test.

    Every check needs the tests runnable, so making a ``Copies`` fails first when one is
    not (:func:`runnable_tests`).  Each copy is built once per run, in ``folder``, and its
    tests run in it once.  ``watch``, if given, is made for each copy as it loads, and runs
    around every test in it.
    """

    def __init__(
        self,
        learner: ModuleType,
        reference: ModuleType,
        folder: Path,
        watch: Callable[[Copy], Watch[L]] | None = None,
    ) -> None:
        self.tests = runnable_tests(learner)
        self.learner = _source(learner)
        self.reference = _source(reference)
        self.folder = folder
        self.watch = watch
        self.made: dict[str, Copy] = {}
        self.outcomes: dict[tuple[str, tuple[str, ...]], Outcome[L]] = {}

    def of(self, name: str, app_source: str | None = None) -> Copy:
        """The copy called ``name``, whose app under test is the reference's unless given."""
        if name not in self.made:
            app_file = self.reference if app_source is None else app_source
            mine, app = self.learner.splitlines(), app_file.splitlines()
            (my_start, my_end), (app_start, app_end) = markers(self.learner), markers(app_file)
            lines = mine[:my_start] + app[app_start:app_end] + mine[my_end:]
            path = self.folder / f"{name}.py"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            try:
                module = load(path)
            except LoadError as exc:
                raise DoesNotLoad(COPY_DOES_NOT_LOAD.format(exc.message)) from None
            offset = (app_end - app_start) - (my_end - my_start)
            copy = Copy(module, path, app_end - app_start + my_start + 1, offset)
            copy.watch = self.watch(copy) if self.watch is not None else None
            self.made[name] = copy
        return self.made[name]

    def seeded(self, path: Path) -> Copy:
        """The copy whose app under test carries the bug seeded in ``path``."""
        return self.of(f"seeded_{path.stem}", app_source(path, self.reference))

    async def outcome(self, copy: Copy, names: Iterable[str] | None = None) -> Outcome[L]:
        """Run the learner's tests (all, or ``names``) in order in ``copy``, once per run."""
        key = (copy.path.stem, tuple(self.tests if names is None else names))
        if key not in self.outcomes:
            self.outcomes[key] = await run_all(copy, key[1])
        return self.outcomes[key]


def _source(module: ModuleType) -> str:
    return Path(str(module.__file__)).read_text(encoding="utf-8")


# -- running the learner's tests the way pytest would --------------------------------------


def fixtures_in(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """The fixtures a file defines, by name, as the functions they wrap."""
    return {
        value.name: vars(value)["__wrapped__"]
        for value in vars(module).values()
        if isinstance(value, FixtureFunctionDefinition)
    }


def defined_tests(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """The test functions a file defines, by name, in the order written."""
    return {
        name: value
        for name, value in vars(module).items()
        if name.startswith("test_") and callable(value)
    }


def runnable_tests(module: ModuleType) -> list[str]:
    """The names of the learner's tests, once each is known to be one the checks can run."""
    fixtures = fixtures_in(module)
    tests = defined_tests(module)
    for name, test in tests.items():
        unknown = [p for p in inspect.signature(test).parameters if p not in {*fixtures, BUILT_IN}]
        if not inspect.iscoroutinefunction(test) or unknown:
            raise Failure(MISSHAPEN.format(name), help=MISSHAPEN_HELP)
    return list(tests)


async def run(module: ModuleType, test: Callable[..., Awaitable[None]]) -> BaseException | None:
    """Run one test with its fixtures, torn down afterwards; what it raised, if anything."""
    fixtures = fixtures_in(module)
    values: dict[str, Any] = {}
    finalizers: list[Callable[[], Awaitable[None]]] = []

    async def value(name: str) -> Any:
        if name in values:
            return values[name]
        if name == BUILT_IN:
            patch = pytest.MonkeyPatch()
            finalizers.append(lambda: _call(patch.undo))
            values[name] = patch
            return patch
        if name not in fixtures:
            raise Failure(f"no fixture named {name!r} in your file")
        function = fixtures[name]
        kwargs = {param: await value(param) for param in inspect.signature(function).parameters}
        if inspect.isasyncgenfunction(function):
            agen = function(**kwargs)
            values[name] = await agen.__anext__()
            finalizers.append(lambda: _finish_async(agen, name))
        elif inspect.isgeneratorfunction(function):
            gen = function(**kwargs)
            values[name] = next(gen)
            finalizers.append(lambda: _call(_finish, gen, name))
        elif inspect.iscoroutinefunction(function):
            values[name] = await function(**kwargs)
        else:
            values[name] = function(**kwargs)
        return values[name]

    error: BaseException | None = None
    try:
        with anyio.fail_after(TEST_TIMEOUT_S):
            kwargs = {param: await value(param) for param in inspect.signature(test).parameters}
            await test(**kwargs)
    except LEARNER_FAILURES as exc:  # a failing test: an assert, an error, a timeout
        error = exc
    with anyio.move_on_after(TEST_TIMEOUT_S) as teardown:
        for finalize in reversed(finalizers):
            try:
                await finalize()
            except LEARNER_FAILURES as exc:
                error = error or exc
    if teardown.cancelled_caught:
        error = error or TimeoutError("a fixture's teardown did not finish")
    return error


async def _call(function: Callable[..., Any], *args: Any) -> None:
    function(*args)


def _finish(gen: Any, name: str) -> None:
    try:
        next(gen)
    except StopIteration:
        return
    raise RuntimeError(f"fixture {name!r} yielded twice")


async def _finish_async(agen: Any, name: str) -> None:
    try:
        await agen.__anext__()
    except StopAsyncIteration:
        return
    raise RuntimeError(f"fixture {name!r} yielded twice")


async def run_all(copy: Copy, names: Iterable[str]) -> Outcome[Any]:
    """Run the learner's tests in order in ``copy``, its watch around each one."""
    outcome: Outcome[Any] = Outcome()
    tests = defined_tests(copy.module)
    for name in names:
        if copy.watch is not None:
            copy.watch.before_test()
        outcome.errors[name] = await run(copy.module, tests[name])
        if copy.watch is not None and (leak := copy.watch.after_test()):
            outcome.leaks[name] = leak
    return outcome


# -- what the learner reads ----------------------------------------------------------------


def describe(
    name: str, exc: BaseException, path: str | Path, line: Callable[[int], int] | None = None
) -> str:
    """`test_x failed at line 12: assert r.status_code == 401 (AssertionError)`.

    The line is the last one of ``path`` in the traceback, mapped by ``line`` to the
    learner's own file.
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    where = ""
    if frames:
        number = frames[-1].lineno or 0
        where = f" at line {line(number) if line else number}: {frames[-1].line}"
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, TimeoutError):
        reason = f"it did not finish within {TEST_TIMEOUT_S:g} s"
    return f"{name} failed{where} ({reason})"


def expect_enough(tests: Sized, minimum: int) -> None:
    """The learner wrote at least ``minimum`` tests."""
    expect(len(tests) >= minimum, TOO_FEW.format(minimum, len(tests)))


def expect_all_pass(
    tests: Sized, errors: Errors, describe: Callable[[str, BaseException], str]
) -> None:
    """There are tests, and every one passed (against the correct app)."""
    expect(tests, NO_TESTS)
    failed = [describe(name, exc) for name, exc in errors.items() if exc]
    if failed:
        raise Failure("\n".join(failed), help=FAILED_HELP)


def expect_no_leaks(outcome: Outcome[L], left: Callable[[L], str], *, help: str) -> None:
    """No test left anything behind; each one that did is named with ``left(what it left)``."""
    if outcome.leaks:
        raise Failure(
            "\n".join(
                f"{name} left {left(leak)}" + (" when it failed" if outcome.errors[name] else "")
                for name, leak in outcome.leaks.items()
            ),
            help=help,
        )


def trusted(errors: Errors) -> list[str]:
    """The tests that passed against the correct app: only they can tell a bug."""
    passed = [name for name, exc in errors.items() if exc is None]
    expect(passed, NONE_TRUSTED)
    return passed


def expect_caught(errors: Errors, bug: str) -> None:
    """At least one of the (trusted) tests failed against the app that has ``bug``."""
    expect(any(errors.values()), NOT_CAUGHT.format(bug))


# -- bug-seeded apps -------------------------------------------------------------------------


def describe_bug(path: Path) -> str:
    """The bug a seeded app carries: the sentence heading its diff."""
    return variants.read(path).sentence if path.suffix == ".diff" else path.stem


def app_source(path: Path, reference_source: str) -> str:
    """The bug-seeded file: the reference with the diff applied (or a whole file, as given)."""
    if path.suffix == ".diff":
        return variants.apply(variants.read(path), reference_source)
    return path.read_text(encoding="utf-8")


def parametrize_seeded(
    metafunc: pytest.Metafunc,
    planted: list[Path],
    *,
    stub_catches: Mapping[str, str] | None = None,
    describe: Callable[[Path], str] = describe_bug,
) -> None:
    """Parametrize a suite's ``seeded`` and ``bug`` over its bug-seeded apps.

    Call it from the suite's ``pytest_generate_tests``.  ``stub_catches`` names the seeded
    apps (by file stem) that the stub's own example test already catches, and why.
    """
    if "seeded" not in metafunc.fixturenames:
        return
    reasons = stub_catches or {}
    params = [
        pytest.param(
            path,
            describe(path),
            id=path.stem,
            marks=[pytest.mark.stub_may_pass(reasons[path.stem])] if path.stem in reasons else [],
        )
        for path in seeded_apps(metafunc.config, planted)
    ]
    metafunc.parametrize(("seeded", "bug"), params)
