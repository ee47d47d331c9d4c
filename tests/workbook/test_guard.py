"""Learner code that reaches into the grader is never a pass, and is flagged.

The learner's code runs in the grading child beside pytest and the reporter.  Each case
writes a learner file that attacks the grader from inside into a fresh copy of the
sample workbook and grades it through the real runner: writing forged results to the
result channel, swapping the channel for another file, rewriting pytest's outcomes by
patching it, or walking the interpreter's objects and frames to reach the reporter.
"""

from pathlib import Path

import pytest

from workbook import catalog, classroom, grading, runner
from workbook.launch import ColdLauncher

LIMITS = runner.Limits(test_timeout=60, run_timeout=120, memory_mb=768)
EXERCISE = "exercises/01_basics/01_greeting.py"

APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def greet():
    {greet}
    return {{"hello": "world"}}
"""
WRONG_APP = APP.replace('"world"', '"nobody"')

# finds every socket the process holds (the channel is one) and writes lines to it
FORGE = """
import json, os

def _forge(lines):
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                os.write(int(name), "".join(lines).encode())
        except OSError:
            pass

def _results(tests):
    return [json.dumps({"event": "result", "id": t, "status": "passed"}) + "\\n" for t in tests]

IDS = ["tests/01_basics/test_01_greeting.py::" + n for n in ("test_greets", "test_only_get")]
"""
FORGED_PLAIN = FORGE + '_forge(_results(IDS) + [\'{"event": "finish"}\\n\'])\n'
FORGED_SIGNED = FORGE + "_forge(['7 ' + 'ab' * 32 + ' ' + line for line in _results(IDS)])\n"
SWAPPED = """
import os

for name in os.listdir("/proc/self/fd"):
    try:
        if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
            kept = os.dup(int(name))  # a copy, so the parent's end stays open
            os.dup2(os.open(os.devnull, os.O_WRONLY), int(name))
    except OSError:
        pass
"""
# every report says "passed", whatever the check found
PATCHED = """
import sys

_runner = sys.modules["_pytest.runner"]
_original = _runner.call_and_report


def _always_passed(item, when, log=True, **kwargs):
    report = _original(item, when, log, **kwargs)
    report.outcome = "passed"
    report.longrepr = None
    return report


_runner.call_and_report = _always_passed
"""


def grade(root: Path, launcher) -> grading.CheckResult:
    loaded = catalog.load(root)
    (exercise,) = loaded.find("01_basics/01_greeting")
    return grading.check(loaded, exercise, limits=LIMITS, launcher=launcher)


@pytest.fixture(params=["cold", "warm"])
def chosen(request, zygote):
    return zygote if request.param == "warm" else ColdLauncher()


def test_a_clean_file_is_not_flagged(sample, chosen):
    (sample / EXERCISE).write_text(APP.format(greet="pass"))
    result = grade(sample, chosen)
    assert result.passed, result.to_json()
    assert result.flags == []


@pytest.mark.parametrize("attack", [FORGED_PLAIN, FORGED_SIGNED], ids=["plain", "badly_signed"])
def test_forged_results_on_the_channel_end_the_run(sample, chosen, attack):
    (sample / EXERCISE).write_text(attack + WRONG_APP.format(greet="pass"))
    result = grade(sample, chosen)
    assert result.status == "crashed", result.to_json()
    assert "writes to the grader's result channel" in result.message
    assert not any(test["status"] == "passed" for test in result.tests), result.to_json()
    assert [flag["reason"] for flag in result.flags] == ["writes to the grader's result channel"]


def test_a_swapped_channel_ends_the_run(sample, chosen):
    (sample / EXERCISE).write_text(SWAPPED + APP.format(greet="pass"))
    result = grade(sample, chosen)
    assert result.status == "crashed", result.to_json()
    assert not any(test["status"] == "passed" for test in result.tests), result.to_json()


def test_patching_pytest_to_rewrite_outcomes_is_never_a_pass(sample, chosen):
    (sample / EXERCISE).write_text(PATCHED + WRONG_APP.format(greet="pass"))
    result = grade(sample, chosen)
    assert result.status == "crashed", result.to_json()
    assert "changes the grader's own code at run time (_pytest.runner.call_and_report)" in (
        result.message
    )
    assert not any(test["status"] == "passed" for test in result.tests), result.to_json()


REACHES = {
    "gc": (
        # past the static scan: no import statement, no call of __import__ by name
        "import sys; load = vars(sys.modules['builtins'])['__import__']; "
        "objects = getattr(load('g' + 'c'), 'get_' + 'objects')()",
        "walks every object in the interpreter (gc.get_objects)",
    ),
    "frame": (
        "import sys; caller = getattr(sys, '_get' + 'frame')(1)",
        "walks the interpreter's frames (sys._getframe)",
    ),
    "inspect": (
        "import inspect; callers = getattr(inspect, 'st' + 'ack')()",
        "walks the interpreter's frames (sys._getframe)",
    ),
    "traceback": (
        "try:\n        raise ValueError\n    except ValueError as error:\n"
        "        frame = error.__traceback__.tb_frame",
        "walks the interpreter's frames (.tb_frame)",
    ),
    "ctypes": (
        "import ctypes; ctypes.string_at(id(app), 8)",
        "reaches into the interpreter's memory with ctypes (ctypes.string_at)",
    ),
    "exec": (
        'exec("import sys\\nsys._getframe(0)")',
        "walks the interpreter's frames (sys._getframe)",
    ),
}


@pytest.mark.parametrize("reach", sorted(REACHES))
def test_reaching_into_the_interpreter_is_flagged_where_it_happens(sample, zygote, reach):
    code, reason = REACHES[reach]
    (sample / EXERCISE).write_text(APP.format(greet=code))
    result = grade(sample, zygote)
    assert result.passed, result.to_json()  # a flag is for a person to judge, not a failure
    (flag,) = {(f["reason"], f["path"], f["line"]) for f in result.flags}
    line = next(n for n, text in enumerate(APP.splitlines(), 1) if "{greet}" in text)
    if reach == "exec":  # code built from a string has no file of its own
        assert flag == (reason, "<string>", 2)
    elif reach == "traceback":
        assert flag == (reason, EXERCISE, line + 3)
    else:
        assert flag == (reason, EXERCISE, line)


def test_grade_holds_a_flagged_exercise_for_review(sample, tmp_path):
    submission = tmp_path / "student"
    submission.mkdir()
    (submission / "exercises/01_basics").mkdir(parents=True)
    code, _ = REACHES["gc"]
    (submission / EXERCISE).write_text(APP.format(greet=code))
    loaded = catalog.load(sample)
    batch = classroom.grade(loaded, [str(submission)], workers=1)
    (graded,) = [e for e in batch.submissions[0].exercises if e.exercise.id.endswith("greeting")]
    assert graded.status == "passed"
    assert graded.score == 0.0
    assert graded.score_if_trusted == graded.max_score
    reasons = [(flag.path, flag.reason) for flag in graded.flags]
    assert reasons == [
        (EXERCISE, "walks every object in the interpreter (gc.get_objects) (seen at run time)")
    ]
