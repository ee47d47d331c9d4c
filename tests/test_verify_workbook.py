"""`workbook verify` on the real workbook: every suite has teeth, every file has its place.

The same checks as the command, one test per exercise, so the suite spreads them over
its workers (each exercise's runs one at a time, forked from that worker's zygote) and
each has its own time bound.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbook import catalog, verify
from workbook.launch import base_env
from workbook.zygote import Zygote

ROOT = Path(__file__).resolve().parents[1]
CATALOG = catalog.load(ROOT)


@pytest.fixture(scope="module")
def warm() -> Iterator[Zygote]:
    zygote = Zygote(base_env(ROOT), eager=True)
    yield zygote
    zygote.close()


@pytest.mark.timeout(1800)  # a hang guard only: a capstone step takes 5-11 min on 2 cores
@pytest.mark.parametrize("exercise", CATALOG.exercises, ids=lambda e: e.id)
def test_the_exercise_verifies(exercise, warm):
    report = verify.verify(CATALOG, [exercise], workers=1, launcher=warm, whole_workbook=False)
    (result,) = report.exercises
    assert not result.problems, "\n".join(result.problems)
    assert result.solution == "passed"
    assert result.stub != "passed"
    assert result.known_wrong, "the exercise keeps known-wrong variants"
    assert all(wrong["status"] != "passed" for wrong in result.known_wrong)
    assert result.mutants.total > 0, "the solution has mutants to try"
    assert not result.mutants.survived


def test_the_workbook_has_no_stray_files_and_clean_solutions():
    problems = verify.workbook_problems(CATALOG)
    assert not problems, "\n".join(problems)
