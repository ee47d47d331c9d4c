"""An app that exits instead of failing gets a clear verdict, and the run goes on.

SystemExit, KeyboardInterrupt, GeneratorExit (and exception groups holding them) are no
ordinary errors: raised in a task they break out of the event loop, and pytest stops the
whole run on a KeyboardInterrupt.  Each case writes such an app into a fresh copy of the
sample workbook and grades it through the real runner, with a suite whose later check
does not need what broke, so the verdict shows that the run went on.
"""

from pathlib import Path

import pytest

from workbook import catalog, grading, runner
from workbook.launch import ColdLauncher

# generous: a verdict here must come from what the app did, never from a slow machine
LIMITS = runner.Limits(test_timeout=60, run_timeout=120, memory_mb=768)
EXERCISE = "exercises/01_basics/01_greeting.py"
SUITE = "tests/01_basics/test_01_greeting.py"

CHECKS = '''
from workbook.testing import client_for, expect_json, expect_status


async def test_greets(exercise):
    """GET / answers 200 with the greeting"""
    async with client_for(exercise.app) as client:
        response = await client.get("/")
    expect_status(response, 200)
    expect_json(response, {"hello": "world"})


async def test_later(exercise):
    """GET /later answers 200, lifespan or not"""
    async with client_for(exercise.app, lifespan=False) as client:
        response = await client.get("/later")
    expect_status(response, 200)
'''

HEAD = """import asyncio, os, sys
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, Depends, FastAPI
"""
LATER = """

@app.get("/later")
async def later():
    return {}
"""


def app(*, lifespan: str = "", greet: str = "return {'hello': 'world'}", extra: str = "") -> str:
    """A learner's file: ``lifespan`` is the body around ``yield``, ``greet`` the route's."""
    source = HEAD + extra
    if lifespan:
        source += f"\n@asynccontextmanager\nasync def lifespan(app):\n{lifespan}\n"
        source += "\napp = FastAPI(lifespan=lifespan)\n"
    else:
        source += "\napp = FastAPI()\n"
    source += "\n@app.get('/')\n"
    source += "async def greet(tasks: BackgroundTasks, value=Depends(dependency)):\n"
    return source + f"    {greet}\n" + LATER


FINE = "\ndef dependency():\n    return 1\n"
EXITS = "your code raised {raised} {when}: an app should raise an error, not exit the process"
STARTED = "the app did not start: your code raised {raised}: {advice}"
SHOULD_EXIT = "an app should raise an error, not exit the process"
CTRL_C = "KeyboardInterrupt stands for Ctrl-C: an app should raise an ordinary error"

# case: (learner file, status, message of the first check, status of the later check)
CASES = {
    "exits_at_startup": (
        app(lifespan="    sys.exit('bad settings')\n    yield", extra=FINE),
        "failed",
        STARTED.format(raised="SystemExit('bad settings')", advice=SHOULD_EXIT),
        "passed",
    ),
    "exits_at_shutdown": (
        app(lifespan="    yield\n    raise SystemExit(1)", extra=FINE),
        "failed",
        EXITS.format(raised="SystemExit(1)", when="while the app shut down"),
        "passed",
    ),
    "interrupts_in_a_route": (
        app(greet="raise KeyboardInterrupt", extra=FINE),
        "failed",
        f"your code raised KeyboardInterrupt() while the app answered GET /: {CTRL_C}",
        "passed",
    ),
    "exits_in_a_dependency": (
        app(extra="\ndef dependency():\n    sys.exit(4)\n"),
        "failed",
        EXITS.format(raised="SystemExit(4)", when="while the app answered GET /"),
        "passed",
    ),
    "interrupts_at_import": (
        "raise KeyboardInterrupt\n",
        "error",
        "importing the file failed: your code raised KeyboardInterrupt() while the file was "
        f"imported: {CTRL_C}",
        "skipped",  # reported, not lost: nothing can be checked in a file that never imported
    ),
}
# the same, in the places an exit hides best; graded warm only, to stay fast
MORE_CASES = {
    "exits_under_a_middleware": (
        app(
            greet="raise SystemExit(7)",
            extra=FINE + "\nasync def passing(request, call_next):\n"
            "    return await call_next(request)\n",
        ).replace("\n@app.get('/')", "\napp.middleware('http')(passing)\n\n@app.get('/')"),
        "failed",
        EXITS.format(raised="SystemExit(7)", when="while the app answered GET /"),
        "passed",
    ),
    "exits_in_a_background_task": (
        app(
            greet="tasks.add_task(sys.exit, 6)\n    return {'hello': 'world'}",
            extra=FINE,
        ),
        "failed",
        EXITS.format(
            raised="SystemExit(6)",
            when="after the app answered GET / "
            "(in a background task, or a dependency's code after its yield?)",
        ),
        "passed",
    ),
    "exits_in_a_forgotten_task": (
        app(
            lifespan="    asyncio.create_task(leave())\n    await asyncio.sleep(0)\n    yield",
            extra=FINE + "\nasync def leave():\n    sys.exit(9)\n",
        ),
        "failed",
        EXITS.format(raised="SystemExit(9)", when="in a task it started"),
        "passed",
    ),
    "groups_an_exit_at_startup": (
        app(
            lifespan="    raise BaseExceptionGroup('settings', [SystemExit(1)])\n    yield",
            extra=FINE,
        ),
        "failed",
        STARTED.format(raised="an exception group holding SystemExit(1)", advice=SHOULD_EXIT),
        "passed",
    ),
    "raises_generator_exit_in_a_route": (
        app(greet="raise GeneratorExit", extra=FINE),
        "failed",
        "your code raised GeneratorExit() while the app answered GET /: "
        "GeneratorExit only closes a generator: an app should raise an ordinary error",
        "passed",
    ),
}


def grade(root: Path, launcher) -> grading.CheckResult:
    loaded = catalog.load(root)
    (exercise,) = loaded.find("01_basics/01_greeting")
    return grading.check(loaded, exercise, limits=LIMITS, launcher=launcher)


def check_case(sample: Path, launcher, case: tuple[str, str, str, str]) -> None:
    source, status, message, later = case
    (sample / SUITE).write_text(CHECKS)
    (sample / EXERCISE).write_text(source)
    result = grade(sample, launcher)
    assert result.status == status, result.to_json()
    first, second = result.tests
    assert (first["status"], first["message"]) == (status, message), result.to_json()
    assert second["status"] == later, result.to_json()
    assert "INTERNALERROR" not in result.output


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", ["cold", "warm"])
def test_an_exit_fails_its_check_and_the_run_goes_on(sample, zygote, kind, case):
    launcher = zygote if kind == "warm" else ColdLauncher()
    check_case(sample, launcher, CASES[case])


@pytest.mark.parametrize("case", sorted(MORE_CASES))
def test_an_exit_anywhere_in_the_app_fails_its_check(sample, zygote, case):
    check_case(sample, zygote, MORE_CASES[case])


def test_the_later_check_passes_when_nothing_exits(sample, zygote):
    (sample / SUITE).write_text(CHECKS)
    (sample / EXERCISE).write_text(app(extra=FINE))
    assert grade(sample, zygote).passed


@pytest.mark.parametrize("kind", ["cold", "warm"])
def test_os_exit_at_startup_is_an_early_exit(sample, zygote, kind):
    launcher = zygote if kind == "warm" else ColdLauncher()
    (sample / SUITE).write_text(CHECKS)
    (sample / EXERCISE).write_text(app(lifespan="    os._exit(0)\n    yield", extra=FINE))
    result = grade(sample, launcher)
    assert result.status == "crashed"
    assert "exit code 0" in result.tests[0]["message"]
    assert result.tests[1]["status"] != "passed", "never a pass it did not see"


PYTEST_STEERS = '''
import pytest

from workbook.testing import client_for


async def test_skipped(exercise):
    """skipped by the suite from inside the app"""
    exercise.app.state.outcome = pytest.skip
    async with client_for(exercise.app) as client:
        await client.get("/")


async def test_failed(exercise):
    """failed by the suite from inside the app"""
    exercise.app.state.outcome = pytest.fail
    async with client_for(exercise.app) as client:
        await client.get("/")


async def test_direct(exercise):
    """an exit raised straight from the learner's function"""
    exercise.leave()
'''


def test_pytest_outcomes_pass_through_and_a_direct_exit_fails(sample, zygote):
    # skip and fail are BaseExceptions too: raised from inside the app they keep their meaning
    source = (
        "import sys\nfrom fastapi import FastAPI, Request\n\napp = FastAPI()\n\n"
        "@app.get('/')\nasync def greet(request: Request):\n"
        "    request.app.state.outcome('said so')\n\n"
        "def leave():\n    sys.exit(3)\n"
    )
    (sample / SUITE).write_text(PYTEST_STEERS)
    (sample / EXERCISE).write_text(source)
    result = grade(sample, zygote)
    statuses = {test["name"]: (test["status"], test["message"]) for test in result.tests}
    assert statuses["test_skipped"] == ("skipped", "said so")
    assert statuses["test_failed"][0] == "failed"
    assert "said so" in statuses["test_failed"][1]
    assert statuses["test_direct"] == (
        "failed",
        "your code raised SystemExit(3): an app should raise an error, not exit the process",
    )


FIXTURE_EXITS = '''
import pytest


@pytest.fixture(scope="module")
def configured(exercise):
    return exercise.configure()


def test_configured(configured):
    """the settings load"""


def test_configured_again(configured):
    """the settings load, checked once more"""


def test_apart(exercise):
    """a check that needs no settings"""
    assert exercise.VALUE == 1
'''


def test_an_exit_in_a_fixture_fails_once_and_blocks_only_what_needs_it(sample, zygote):
    source = "VALUE = 1\n\ndef configure():\n    raise KeyboardInterrupt\n"
    (sample / SUITE).write_text(FIXTURE_EXITS)
    (sample / EXERCISE).write_text(source)
    first, again, apart = grade(sample, zygote).tests
    assert (first["status"], first["message"]) == (
        "failed",
        f"your code raised KeyboardInterrupt(): {CTRL_C}",
    )
    assert (again["status"], again["message"]) == (
        "skipped",
        "not checked: “the settings load” failed first",
    )
    assert apart["status"] == "passed"
