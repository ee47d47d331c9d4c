"""Hidden checks for 03_dependency_injection/05_test_the_graph.

The learner writes tests and an `overrides` fixture; these checks grade both.  They run the
learner's tests themselves, the way pytest would: each test with the fixtures its
parameters name (fixtures of the learner's file, and `monkeypatch`), set up before it and
torn down after it, whether it passed or failed.  A test runs in a copy of the learner's
file whose app under test (the lines between the marker comments) is replaced: by the
reference's app, which every test must pass, or by a bug-seeded one (a diff of the
reference, in seeded/), which at least one of the tests that pass on the correct app must
fail.  Between two tests the checks put `app.dependency_overrides` back as it was, so one
test's leak never decides another's verdict; leaks are graded on their own, on a copy whose
app has no routes at all, where the tests fail.
"""

import inspect
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
from _pytest.fixtures import FixtureFunctionDefinition

from workbook import variants
from workbook.loader import LoadError, load
from workbook.plugin import seeded_apps
from workbook.testing import Failure, expect

SEEDED = sorted((Path(__file__).parent / "seeded").glob("*.diff"))
STUB_CATCHES = {  # seeded apps the stub's one example test already catches, and why
    "trial_on_real_clock": "the stub's example test checks the trial left at the overridden time",
}
MARKERS = ("# --- the app under test", "# --- the tests")
MIN_TESTS = 5
TEST_TIMEOUT_S = 2.0
BUILT_IN = "monkeypatch"  # the one pytest fixture the checks provide
LEARNER_FAILURES = (Exception, pytest.fail.Exception, pytest.skip.Exception)
LEAK_HELP = (
    "Does a test set app.dependency_overrides itself, or a fixture that does not put it back? "
    "Write through the overrides fixture: pytest runs its teardown whether the test passed "
    "or failed."
)
TEARDOWN_HELP = (
    "Does the fixture do anything once the test is over? Make it yield the overrides, and "
    "put them back after the yield."
)
RESTORE_HELP = (
    "Does the fixture put back a copy of the overrides it found, taken before the test? "
    "dict(app.dependency_overrides) copies them; clear() alone forgets the ones that were "
    "there before."
)

LearnerTest = Callable[..., Coroutine[Any, Any, None]]
Overrides = dict[Callable[..., Any], Callable[..., Any]]


# -- copies of the learner's file with another app under test ------------------------------


def markers(source: str) -> tuple[int, int]:
    """The 0-based lines of the two marker comments."""
    lines = source.splitlines()
    found = [[n for n, line in enumerate(lines) if line.startswith(mark)] for mark in MARKERS]
    if any(len(where) != 1 for where in found) or found[0] > found[1]:
        raise Failure(
            f"expected the marker comments {MARKERS[0]!r} and {MARKERS[1]!r} once each, "
            "in that order",
            help="Did you remove or copy a marker comment? The checks put other apps between them.",
        )
    return found[0][0], found[1][0]


@dataclass
class Copy:
    """The learner's file, loaded with another app under test."""

    module: ModuleType
    path: Path
    tests_start: int  # 1-based line where the tests begin in the copy
    offset: int  # how many lines lower the tests sit than in the learner's file

    def learner_line(self, line: int) -> int:
        return line - self.offset if line >= self.tests_start else line


class Copies:
    """Builds each copy once per run, in a folder of its own."""

    def __init__(self, learner: str, folder: Path) -> None:
        self.learner = learner
        self.folder = folder
        self.made: dict[str, Copy] = {}

    def of(self, name: str, app_source: str) -> Copy:
        if name not in self.made:
            mine, app = self.learner.splitlines(), app_source.splitlines()
            (my_start, my_end), (app_start, app_end) = markers(self.learner), markers(app_source)
            lines = mine[:my_start] + app[app_start:app_end] + mine[my_end:]
            path = self.folder / f"{name}.py"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            try:
                module = load(path)
            except LoadError as exc:
                raise Failure(
                    f"your file, with the app under test put back, does not load: {exc.message}"
                ) from None
            offset = (app_end - app_start) - (my_end - my_start)
            self.made[name] = Copy(module, path, app_end - app_start + my_start + 1, offset)
        return self.made[name]


# -- running the learner's tests the way pytest would --------------------------------------


def fixtures_in(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """The fixtures a file defines, by name, as the functions they wrap."""
    return {
        value.name: value.__wrapped__
        for value in vars(module).values()
        if isinstance(value, FixtureFunctionDefinition)
    }


def learner_tests_of(module: ModuleType) -> dict[str, LearnerTest]:
    return {
        name: value
        for name, value in vars(module).items()
        if name.startswith("test_") and callable(value)
    }


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


def names(overrides: dict[Any, Any]) -> str:
    return ", ".join(sorted(getattr(key, "__name__", repr(key)) for key in overrides)) or "none"


def changed(before: dict[Any, Any], after: dict[Any, Any]) -> dict[Any, Any]:
    """The dependencies whose override differs between two snapshots."""
    return {key: after.get(key) for key in before | after if before.get(key) is not after.get(key)}


@dataclass
class Outcome:
    """What each learner test did against one copy."""

    errors: dict[str, BaseException | None] = field(default_factory=dict)
    leaks: dict[str, dict[Any, Any]] = field(default_factory=dict)


async def run_all(copy: Copy, names_: list[str]) -> Outcome:
    """Run the learner's tests in order; put the overrides back after each one."""
    outcome = Outcome()
    app = copy.module.app
    tests = learner_tests_of(copy.module)
    for name in names_:
        before = dict(app.dependency_overrides)
        outcome.errors[name] = await run(copy.module, tests[name])
        if leak := changed(before, app.dependency_overrides):
            outcome.leaks[name] = leak
        app.dependency_overrides.clear()
        app.dependency_overrides.update(before)
    return outcome


def describe(name: str, exc: BaseException, copy: Copy) -> str:
    """`test_x` failed at line 12: assert r.status_code == 401 (AssertionError)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(copy.path)]
    where = ""
    if frames:
        where = f" at line {copy.learner_line(frames[-1].lineno or 0)}: {frames[-1].line}"
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, TimeoutError):
        reason = f"it did not finish within {TEST_TIMEOUT_S:g} s"
    return f"{name} failed{where} ({reason})"


# -- fixtures of these checks -----------------------------------------------------------


@pytest.fixture(scope="module")
def learner_tests(exercise: ModuleType) -> list[str]:
    """The learner's tests, in the order written; every check needs them runnable."""
    fixtures = fixtures_in(exercise)
    tests = learner_tests_of(exercise)
    for name, test in tests.items():
        unknown = [p for p in inspect.signature(test).parameters if p not in {*fixtures, BUILT_IN}]
        if not inspect.iscoroutinefunction(test) or unknown:
            raise Failure(
                f"expected every test to be an `async def test_…` whose parameters are "
                f"fixtures of your file (or monkeypatch), unlike {name}",
                help="Does a test ask for a pytest fixture such as tmp_path, or is it a "
                "plain def? The checks provide only your own fixtures and monkeypatch.",
            )
    return list(tests)


@pytest.fixture(scope="module")
def copies(exercise: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Copies:
    learner = Path(exercise.__file__).read_text(encoding="utf-8")
    return Copies(learner, tmp_path_factory.mktemp("copies"))


@pytest.fixture(scope="module")
def reference_source(reference: ModuleType) -> str:
    return Path(reference.__file__).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    """Each copy's outcome, computed once per run."""
    return {}


@pytest.fixture
async def correct(
    copies: Copies, reference_source: str, learner_tests: list[str], outcomes: dict[str, Outcome]
) -> tuple[Copy, Outcome]:
    """The learner's tests against the correct app."""
    copy = copies.of("correct", reference_source)
    if "correct" not in outcomes:
        outcomes["correct"] = await run_all(copy, learner_tests)
    return copy, outcomes["correct"]


# -- the checks ----------------------------------------------------------------------------


def test_enough_tests(learner_tests: list[str]) -> None:
    """you wrote at least five tests, each an `async def test_…` taking fixtures of your file"""
    expect(
        len(learner_tests) >= MIN_TESTS,
        f"expected at least {MIN_TESTS} tests, not {len(learner_tests)}",
    )


@pytest.mark.stub_may_pass("the stub's one example test passes against the correct app")
async def test_pass_on_correct_app(learner_tests: list[str], correct: tuple[Copy, Outcome]) -> None:
    """your tests pass against the correct app"""
    expect(learner_tests, "expected at least one test, not 0")
    copy, outcome = correct
    failed = [describe(name, exc, copy) for name, exc in outcome.errors.items() if exc]
    if failed:
        raise Failure(
            "\n".join(failed),
            help="Does the failing test expect something the contract does not promise?",
        )


async def through_fixture(
    copy: Copy, before: Overrides, body: Callable[[Any], None]
) -> tuple[BaseException | None, Overrides]:
    """Run `body` as a test that takes your `overrides` fixture, on an app holding `before`.

    Answers what the test raised and what `app.dependency_overrides` held afterwards.
    """
    app = copy.module.app
    if "overrides" not in fixtures_in(copy.module):
        raise Failure("expected a fixture named `overrides` in your file")

    async def test(overrides: Any) -> None:
        body(overrides)

    app.dependency_overrides.clear()
    app.dependency_overrides.update(before)
    try:
        error = await run(copy.module, test)
        after = dict(copy.module.app.dependency_overrides)
    finally:
        copy.module.app.dependency_overrides = {}
    if error is not None and not isinstance(error, Planted):
        raise Failure(f"a test using your overrides fixture raised {type(error).__name__}: {error}")
    return error, after


class Planted(AssertionError):
    """The assertion a check's own test fails with, to see what the fixture does then."""


async def replacement() -> None:
    """A stand-in dependency: the checks compare it by identity."""


async def another() -> None:
    """Another stand-in dependency."""


@pytest.mark.stub_may_pass("the stub's fixture already hands out app.dependency_overrides")
async def test_overrides_reach_the_app(correct: tuple[Copy, Outcome]) -> None:
    """`overrides[dependency] = replacement` makes the app use the replacement in that test"""
    copy, _ = correct
    module = copy.module
    seen: Overrides = {}

    def body(overrides: Any) -> None:
        overrides[module.get_clock] = replacement
        seen.update(module.app.dependency_overrides)

    await through_fixture(copy, {}, body)
    expect(
        seen.get(module.get_clock) is replacement,
        "after overrides[get_clock] = replacement, app.dependency_overrides did not hold it "
        f"(it held: {names(seen)})",
        help="Does the fixture hand out a copy? Hand out app.dependency_overrides itself.",
    )


async def test_overrides_gone_after_a_passing_test(correct: tuple[Copy, Outcome]) -> None:
    """after a test that passed, every override it made is gone"""
    copy, _ = correct
    module = copy.module

    def body(overrides: Any) -> None:
        overrides[module.get_clock] = replacement
        overrides[module.get_keys] = another

    _, after = await through_fixture(copy, {}, body)
    expect(
        not after,
        f"after a test that passed, overrides were left for {names(after)}",
        help=TEARDOWN_HELP,
    )


async def test_overrides_gone_after_a_failing_test(correct: tuple[Copy, Outcome]) -> None:
    """after a test that failed, every override it made is gone too"""
    copy, _ = correct
    module = copy.module

    def body(overrides: Any) -> None:
        overrides[module.get_clock] = replacement
        raise Planted("the check's own test fails here, on purpose")

    error, after = await through_fixture(copy, {}, body)
    expect(isinstance(error, Planted), "the test's failure did not reach pytest")
    expect(
        not after,
        f"after a test that failed, overrides were left for {names(after)}",
        help=TEARDOWN_HELP,
    )


async def test_earlier_overrides_come_back(correct: tuple[Copy, Outcome]) -> None:
    """overrides in place before a test are back after it, even the ones it replaced or
    removed"""
    copy, _ = correct
    module = copy.module
    before: Overrides = {module.get_settings: replacement, module.get_keys: another}

    def body(overrides: Any) -> None:
        overrides[module.get_settings] = another
        overrides[module.get_settings] = module.get_clock  # replaced twice in one test
        del overrides[module.get_keys]
        overrides[module.get_clock] = replacement

    _, after = await through_fixture(copy, before, body)
    if after != before:
        raise Failure(
            f"expected app.dependency_overrides to hold what it held before the test "
            f"({names(before)}), but these differ: {names(changed(before, after))}",
            help=RESTORE_HELP,
        )


async def test_no_leaks_when_tests_fail(
    copies: Copies,
    reference_source: str,
    learner_tests: list[str],
    outcomes: dict[str, Outcome],
) -> None:
    """your tests leave no override behind, even when they fail"""
    copy = copies.of("broken", reference_source)
    copy.module.app.router.routes.clear()  # every request now answers 404: tests fail
    if "broken" not in outcomes:
        outcomes["broken"] = await run_all(copy, learner_tests)
    leaks = outcomes["broken"].leaks
    if leaks:
        raise Failure(
            "\n".join(
                f"{name} left overrides behind for {names(leak)}"
                + (" when it failed" if outcomes["broken"].errors[name] else "")
                for name, leak in leaks.items()
            ),
            help=LEAK_HELP,
        )


def describe_bug(path: Path) -> str:
    """The bug a seeded app carries: the sentence heading its diff."""
    return variants.read(path).sentence if path.suffix == ".diff" else path.stem


def app_source(path: Path, reference_source: str) -> str:
    """The bug-seeded file: the reference with the diff applied (or a whole file, as given)."""
    if path.suffix == ".diff":
        return variants.apply(variants.read(path), reference_source)
    return path.read_text(encoding="utf-8")


def stub_may_pass(seeded: Path) -> list[pytest.MarkDecorator]:
    reason = STUB_CATCHES.get(seeded.stem)
    return [pytest.mark.stub_may_pass(reason)] if reason else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seeded" in metafunc.fixturenames:
        apps = seeded_apps(metafunc.config, SEEDED)
        params = [
            pytest.param(path, describe_bug(path), id=path.stem, marks=stub_may_pass(path))
            for path in apps
        ]
        metafunc.parametrize(("seeded", "bug"), params)


async def test_catches_bug(
    copies: Copies,
    reference_source: str,
    learner_tests: list[str],
    correct: tuple[Copy, Outcome],
    seeded: Path,
    bug: str,
) -> None:
    """your tests catch an app that {bug}"""
    _, outcome = correct
    trusted = [name for name, exc in outcome.errors.items() if exc is None]
    expect(trusted, "none of your tests passes against the correct app, so none can catch a bug")
    copy = copies.of(f"seeded_{seeded.stem}", app_source(seeded, reference_source))
    buggy = await run_all(copy, trusted)
    expect(
        any(buggy.errors.values()),
        f"none of your tests that pass against the correct app failed against an app that {bug}",
    )
