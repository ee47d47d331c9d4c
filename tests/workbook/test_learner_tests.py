"""The runner of learners' own tests: fixtures set up and torn down as pytest would."""

from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from workbook import learner_tests
from workbook.learner_tests import (
    Copies,
    Copy,
    DoesNotLoad,
    describe,
    expect_all_pass,
    expect_caught,
    expect_enough,
    run,
    runnable_tests,
    trusted,
)
from workbook.loader import load
from workbook.testing import Failure

LEARNER = """\
import pytest

# --- the app under test
def add(a, b):
    return a + b
# --- the tests

EVENTS = []


@pytest.fixture
def numbers():
    EVENTS.append("numbers up")
    yield (2, 3)
    EVENTS.append("numbers down")


@pytest.fixture
async def total(numbers):
    EVENTS.append("total up")
    yield add(*numbers)
    EVENTS.append("total down")


@pytest.fixture
async def limit():
    return 10


async def test_adds(total, limit):
    assert total == 5 < limit


async def test_adds_wrong(total):
    assert total == 6


async def test_patches(monkeypatch):
    monkeypatch.setattr(pytest, "patched_by_the_test", True, raising=False)
    assert add(1, 1) == 2
"""
REFERENCE = '''\
"""The reference: a longer app under test, so the tests sit lower in a copy."""

# --- the app under test


def add(a, b):
    return a + b


# --- the tests
'''
BUGGY = REFERENCE.replace("a + b", "a - b")


def write(folder: Path, name: str, source: str) -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    return load(path)


@pytest.fixture
def learner(tmp_path: Path) -> ModuleType:
    return write(tmp_path, "learner", LEARNER)


@pytest.fixture
def copies(learner: ModuleType, tmp_path: Path) -> Copies[Any]:
    reference = write(tmp_path, "reference", REFERENCE)
    folder = tmp_path / "copies"
    folder.mkdir()
    return Copies(learner, reference, folder)


async def test_a_passing_test_runs_with_its_fixtures_set_up_and_torn_down(learner):
    assert await run(learner, learner.test_adds) is None
    assert learner.EVENTS == ["numbers up", "total up", "total down", "numbers down"]


async def test_a_failing_test_still_has_its_fixtures_torn_down(learner):
    error = await run(learner, learner.test_adds_wrong)
    assert isinstance(error, AssertionError)
    assert learner.EVENTS == ["numbers up", "total up", "total down", "numbers down"]


async def test_monkeypatch_is_provided_and_undone(learner):
    assert await run(learner, learner.test_patches) is None
    assert not hasattr(pytest, "patched_by_the_test")


async def test_a_failing_teardown_fails_a_passing_test(learner):
    async def test(broken: Any) -> None:
        pass

    def broken() -> Any:
        yield 1
        raise ValueError("teardown failed")

    learner.broken = pytest.fixture(broken)
    error = await run(learner, test)
    assert isinstance(error, ValueError)
    assert str(error) == "teardown failed"


async def test_the_test_s_own_error_wins_over_its_teardown_s(learner):
    async def test(broken: Any) -> None:
        raise AssertionError("the test's own")

    async def broken() -> Any:
        yield 1
        yield 2

    learner.broken = pytest.fixture(broken)
    error = await run(learner, test)
    assert str(error) == "the test's own"


async def test_a_fixture_that_yields_twice_is_an_error(learner):
    async def test(twice: Any) -> None:
        pass

    def twice() -> Any:
        yield 1
        yield 2

    learner.twice = pytest.fixture(twice)
    error = await run(learner, test)
    assert str(error) == "fixture 'twice' yielded twice"


async def test_a_test_that_hangs_times_out_and_is_torn_down(learner, monkeypatch):
    monkeypatch.setattr(learner_tests, "TEST_TIMEOUT_S", 0.05)

    async def test_hangs(total: int) -> None:
        await anyio.sleep_forever()

    error = await run(learner, test_hangs)
    assert isinstance(error, TimeoutError)
    assert learner.EVENTS[-1] == "numbers down"
    assert describe("test_hangs", error, learner.__file__) == (
        "test_hangs failed (it did not finish within 0.05 s)"
    )


def test_runnable_tests_names_the_tests_in_order(learner):
    assert runnable_tests(learner) == ["test_adds", "test_adds_wrong", "test_patches"]


@pytest.mark.parametrize(
    "source",
    ["def test_plain(total):\n    pass\n", "async def test_tmp(tmp_path):\n    pass\n"],
    ids=["plain-def", "unknown-fixture"],
)
def test_runnable_tests_refuses_a_test_it_cannot_run(tmp_path, source):
    module = write(tmp_path, "odd", LEARNER + "\n\n" + source)
    with pytest.raises(Failure, match=r"whose parameters are fixtures of your file.*unlike"):
        runnable_tests(module)
    with pytest.raises(Failure, match=r"whose parameters are fixtures of your file.*unlike"):
        Copies(module, module, tmp_path)


async def test_a_copy_holds_the_reference_app_and_reports_learner_lines(copies, learner):
    copy = copies.of("correct")
    assert copy.module.add(2, 3) == 5
    outcome = await copies.outcome(copy)
    assert list(outcome.errors) == copies.tests == runnable_tests(learner)
    assert [name for name, error in outcome.errors.items() if error] == ["test_adds_wrong"]
    line = LEARNER.splitlines().index("    assert total == 6") + 1
    message = copy.describe("test_adds_wrong", outcome.errors["test_adds_wrong"])
    assert message == f"test_adds_wrong failed at line {line}: assert total == 6 (AssertionError)"


async def test_each_copy_runs_once(copies):
    copy = copies.of("correct")
    first = await copies.outcome(copy, ["test_adds"])
    assert copies.of("correct") is copy
    assert await copies.outcome(copy, ["test_adds"]) is first
    assert copy.module.EVENTS == ["numbers up", "total up", "total down", "numbers down"]


async def test_a_seeded_copy_is_caught_by_a_trusted_test(copies, tmp_path):
    correct = await copies.outcome(copies.of("correct"), ["test_adds", "test_adds_wrong"])
    passing = trusted(correct.errors)
    assert passing == ["test_adds"]
    seeded = tmp_path / "subtracts.py"
    seeded.write_text(BUGGY, encoding="utf-8")
    buggy = await copies.outcome(copies.seeded(seeded), passing)
    expect_caught(buggy.errors, "subtracts")
    with pytest.raises(Failure, match=r"none of your tests that pass .* an app that subtracts"):
        expect_caught(correct.errors | {"test_adds_wrong": None}, "subtracts")


async def test_a_watch_runs_around_each_test(tmp_path, learner):
    class Counting:
        def __init__(self, copy: Copy) -> None:
            self.events = copy.module.EVENTS

        def before_test(self) -> None:
            self.events.clear()

        def after_test(self) -> int:
            return len(self.events) if "total up" in self.events else 0

    reference = write(tmp_path, "reference", REFERENCE)
    copies = Copies(learner, reference, tmp_path, Counting)
    outcome = await copies.outcome(copies.of("watched"), ["test_adds", "test_patches"])
    assert outcome.leaks == {"test_adds": 4}


def test_moved_markers_are_the_learner_s_failure(copies):
    copies.learner = LEARNER.replace("# --- the tests", "# the tests")
    with pytest.raises(Failure, match="expected the marker comments"):
        copies.of("correct")


def test_a_copy_that_does_not_load_says_so(copies):
    with pytest.raises(DoesNotLoad, match="with the app under test put back, does not load"):
        copies.of("broken", REFERENCE.replace("return a + b", "return a +"))


def test_what_the_learner_reads():
    with pytest.raises(Failure, match=r"^expected at least 5 tests, not 2$"):
        expect_enough(["a", "b"], 5)
    with pytest.raises(Failure, match=r"^expected at least one test, not 0$"):
        expect_all_pass([], {}, str)
    with pytest.raises(Failure) as failed:
        expect_all_pass(["t"], {"t": AssertionError()}, lambda name, exc: f"{name} failed")
    assert failed.value.message == "t failed"
    assert failed.value.help == learner_tests.FAILED_HELP
    with pytest.raises(Failure, match="none of your tests passes against the correct app"):
        trusted({"t": AssertionError()})
