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

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _pytest.fixtures import FixtureFunctionDefinition

from workbook import learner_tests
from workbook.learner_tests import Copies, Copy, Outcome
from workbook.testing import Failure, expect

SEEDED = sorted((Path(__file__).parent / "seeded").glob("*.diff"))
STUB_CATCHES = {  # seeded apps the stub's one example test already catches, and why
    "trial_on_real_clock": "the stub's example test checks the trial left at the overridden time",
}
MIN_TESTS = 5
LEAK_HELP = (
    "Does a test set app.dependency_overrides itself, or a fixture that does not put it back? "
    "Write through the overrides fixture: pytest runs its teardown whether the test passed "
    "or failed."
)
TEARDOWN_HELP = (
    "Does the fixture do anything once the test is over? Make it yield the overrides, and "
    "put them back after the yield."
)
SCOPE_HELP = (
    'Does the fixture take a scope such as "module"? Then pytest sets it up once and puts '
    "the overrides back only after the last test: leave the scope out, so each test gets "
    "its own."
)
RESTORE_HELP = (
    "Does the fixture put back a copy of the overrides it found, taken before the test? "
    "dict(app.dependency_overrides) copies them; clear() alone forgets the ones that were "
    "there before."
)

Overrides = dict[Callable[..., Any], Callable[..., Any]]


def names(overrides: dict[Any, Any]) -> str:
    return ", ".join(sorted(getattr(key, "__name__", repr(key)) for key in overrides)) or "none"


def changed(before: dict[Any, Any], after: dict[Any, Any]) -> dict[Any, Any]:
    """The dependencies whose override differs between two snapshots."""
    return {key: after.get(key) for key in before | after if before.get(key) is not after.get(key)}


class OverridesKept:
    """Puts app.dependency_overrides back as it was after each test, so one test's leak
    never decides another's verdict; what a test left changed is its leak."""

    def __init__(self, copy: Copy) -> None:
        self.app = copy.module.app
        self.before: dict[Any, Any] = {}

    def before_test(self) -> None:
        self.before = dict(self.app.dependency_overrides)

    def after_test(self) -> dict[Any, Any]:
        leak = changed(self.before, self.app.dependency_overrides)
        self.app.dependency_overrides.clear()
        self.app.dependency_overrides.update(self.before)
        return leak


# -- fixtures of these checks -----------------------------------------------------------


@pytest.fixture(scope="module")
def copies(
    exercise: ModuleType, reference: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Copies[dict[Any, Any]]:
    """The learner's tests, in the order written, run in copies of their file."""
    return Copies(exercise, reference, tmp_path_factory.mktemp("copies"), OverridesKept)


@pytest.fixture
async def correct(copies: Copies[dict[Any, Any]]) -> tuple[Copy, Outcome[dict[Any, Any]]]:
    """The learner's tests against the correct app."""
    copy = copies.of("correct")
    return copy, await copies.outcome(copy)


# -- the checks ----------------------------------------------------------------------------


def test_enough_tests(copies: Copies[Any]) -> None:
    """you wrote at least five tests, each an `async def test_…` taking fixtures of your file"""
    learner_tests.expect_enough(copies.tests, MIN_TESTS)


@pytest.mark.stub_may_pass("the stub's one example test passes against the correct app")
async def test_pass_on_correct_app(copies: Copies[Any], correct: tuple[Copy, Outcome]) -> None:
    """your tests pass against the correct app"""
    copy, outcome = correct
    learner_tests.expect_all_pass(copies.tests, outcome.errors, copy.describe)


async def through_fixture(
    copy: Copy, before: Overrides, body: Callable[[Any], None]
) -> tuple[BaseException | None, Overrides]:
    """Run `body` as a test that takes your `overrides` fixture, on an app holding `before`.

    Answers what the test raised and what `app.dependency_overrides` held afterwards.
    """
    app = copy.module.app
    if "overrides" not in learner_tests.fixtures_in(copy.module):
        raise Failure("expected a fixture named `overrides` in your file")

    async def test(overrides: Any) -> None:
        body(overrides)

    app.dependency_overrides.clear()
    app.dependency_overrides.update(before)
    try:
        error = await learner_tests.run(copy.module, test)
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


@pytest.mark.stub_may_pass("the stub's fixture has pytest's default scope")
def test_overrides_set_up_for_each_test(exercise: ModuleType) -> None:
    """your overrides fixture is set up and torn down around every test (function scope)"""
    found = [
        value
        for value in vars(exercise).values()
        if isinstance(value, FixtureFunctionDefinition) and value.name == "overrides"
    ]
    if not found:
        raise Failure("expected a fixture named `overrides` in your file")
    scope = found[0]._fixture_function_marker.scope
    expect(
        scope == "function",
        f'expected the overrides fixture to have scope "function", not {scope!r}: its '
        "teardown would wait for the last test of that scope",
        help=SCOPE_HELP,
    )


async def test_no_leaks_when_tests_fail(copies: Copies[dict[Any, Any]]) -> None:
    """your tests leave no override behind, even when they fail"""
    copy = copies.of("broken")
    copy.module.app.router.routes.clear()  # every request now answers 404: tests fail
    broken = await copies.outcome(copy)
    learner_tests.expect_no_leaks(
        broken, lambda leak: f"overrides behind for {names(leak)}", help=LEAK_HELP
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    learner_tests.parametrize_seeded(metafunc, SEEDED, stub_catches=STUB_CATCHES)


async def test_catches_bug(
    copies: Copies[dict[Any, Any]], correct: tuple[Copy, Outcome], seeded: Path, bug: str
) -> None:
    """your tests catch an app that {bug}"""
    _, outcome = correct
    passing = learner_tests.trusted(outcome.errors)
    copy = copies.seeded(seeded)
    learner_tests.expect_caught((await copies.outcome(copy, passing)).errors, bug)
