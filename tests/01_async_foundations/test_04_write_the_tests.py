"""Hidden checks for 01_async_foundations/04_write_the_tests.

The learner writes tests; these checks grade the tests.  Each learner test runs with a
client of our own, wired to a fresh app: the reference's app, which every test must pass,
or a bug-seeded copy (a diff of the reference, in seeded/), which at least one test must
fail.  Only tests that pass against the correct app count as catching a bug: a test that
always fails proves nothing.  Each seeded diff opens with the sentence naming its bug.
"""

import ast
import inspect
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from workbook import variants
from workbook.learner_tests import (
    TEST_TIMEOUT_S,
    app_source,
    defined_tests,
    describe,
    expect_all_pass,
    expect_caught,
    expect_enough,
    parametrize_seeded,
    trusted,
)
from workbook.loader import load
from workbook.testing import Failure, client_for

SEEDED = sorted((Path(__file__).parent / "seeded").glob("*.diff"))
STUB_CATCHES = {  # seeded apps the stub's one example test already catches, and why
    "read_unknown_200": "the stub's example test checks an unknown slug's 404 on GET /links",
    "unknown_detail": "the stub's example test checks the detail of an unknown slug's 404",
}
MIN_TESTS = 4

LearnerTest = Callable[[httpx.AsyncClient], Coroutine[Any, Any, None]]


def describe_bug(path: Path) -> str:
    """The bug a seeded app carries: the sentence heading its diff, or a file's docstring."""
    if path.suffix == ".diff":
        return variants.read(path).sentence
    return ast.get_docstring(ast.parse(path.read_text())) or path.stem


def seeded_app(path: Path, reference: ModuleType, folder: Path) -> ModuleType:
    """The bug-seeded app: the reference with the diff applied (or a whole file, as given)."""
    if path.suffix != ".diff":
        return load(path)
    target = folder / f"{path.stem}.py"
    if not target.exists():
        original = Path(reference.__file__).read_text(encoding="utf-8")
        target.write_text(app_source(path, original), encoding="utf-8")
    return load(target)


@pytest.fixture(scope="module")
def learner_tests(exercise: ModuleType) -> dict[str, LearnerTest]:
    """The learner's tests by name; every check needs them in a shape it can run."""
    tests = defined_tests(exercise)
    misshapen = [
        name
        for name, test in tests.items()
        if not inspect.iscoroutinefunction(test)
        or list(inspect.signature(test).parameters) != ["client"]
    ]
    if misshapen:
        raise Failure(
            f"expected every test to be `async def test_…(client)`, unlike {', '.join(misshapen)}",
            help="Does a test take other fixtures, or is it a plain def? The checks can "
            "only pass each test a client.",
        )
    return tests


async def run(test: LearnerTest, create_app: Callable[[], FastAPI]) -> BaseException | None:
    """Run one learner test against a fresh app; return what it raised, if anything."""
    try:
        async with client_for(create_app()) as client:
            with anyio.fail_after(TEST_TIMEOUT_S):
                await test(client)
    except Exception as exc:  # a failing learner test: an assert, an error, a timeout
        return exc
    return None


async def passing(
    tests: dict[str, LearnerTest], create_app: Callable[[], FastAPI]
) -> dict[str, BaseException | None]:
    """What each test raised against a fresh app built by create_app (None: it passed)."""
    return {name: await run(test, create_app) for name, test in tests.items()}


def test_enough_tests(learner_tests: dict[str, LearnerTest]) -> None:
    """you wrote at least four tests, each an `async def test_…(client)`"""
    expect_enough(learner_tests, MIN_TESTS)


@pytest.mark.stub_may_pass("the stub's one example test passes against the correct app")
async def test_pass_on_correct_app(
    exercise: ModuleType, reference: ModuleType, learner_tests: dict[str, LearnerTest]
) -> None:
    """your tests pass against the correct app"""
    outcomes = await passing(learner_tests, reference.create_app)
    expect_all_pass(learner_tests, outcomes, partial(describe, path=exercise.__file__))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_seeded(metafunc, SEEDED, stub_catches=STUB_CATCHES, describe=describe_bug)


@pytest.fixture(scope="module")
def seeded_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the seeded apps are written out once per run, to be imported."""
    return tmp_path_factory.mktemp("seeded")


async def test_catches_bug(
    reference: ModuleType,
    learner_tests: dict[str, LearnerTest],
    seeded: Path,
    bug: str,
    seeded_folder: Path,
) -> None:
    """your tests catch an app that {bug}"""
    correct = await passing(learner_tests, reference.create_app)
    tests = {name: learner_tests[name] for name in trusted(correct)}
    buggy = await passing(tests, seeded_app(seeded, reference, seeded_folder).create_app)
    expect_caught(buggy, bug)
