"""`workbook verify` on the real workbook: every suite has teeth, every file has its place.

The same checks as the command, one test per exercise, so the suite spreads them over
its workers and each has its own time bound.
"""

from pathlib import Path

import pytest

from workbook import catalog, verify

ROOT = Path(__file__).resolve().parents[1]
CATALOG = catalog.load(ROOT)


@pytest.mark.parametrize("exercise", CATALOG.exercises, ids=lambda e: e.id)
def test_the_exercise_verifies(exercise):
    report = verify.verify_exercise(CATALOG, exercise)
    assert not report.problems, "\n".join(report.problems)
    assert report.solution == "passed"
    assert report.stub != "passed"
    assert report.known_wrong, "the exercise keeps known-wrong variants"
    assert all(wrong["status"] != "passed" for wrong in report.known_wrong)


def test_the_workbook_has_no_stray_files_and_clean_solutions():
    problems = verify.workbook_problems(CATALOG)
    assert not problems, "\n".join(problems)
