"""The project's own test run: its longest checks shared evenly between xdist's workers.

`workbook verify` on one exercise (tests/test_verify_workbook.py) takes from seconds to
many minutes; every other check takes seconds. Run with ``--dist worksteal`` (as
``bootstrap.py test`` does), xdist first hands each worker one contiguous block of the
collection, then lets an idle worker take the far end of a busy worker's queue. So each
block here starts with its share of the long checks, longest first and dealt in turn,
and ends with ordinary checks: those are what an idle worker takes, and no worker is
left with the last long checks while the others wait. Without xdist nothing moves.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LONG = "test_verify_workbook.py::test_the_exercise_verifies["


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workers = getattr(config, "workerinput", {}).get("workercount", 1)
    if workers < 2:
        return
    long = sorted((item for item in items if LONG in item.nodeid), key=_weight, reverse=True)
    if not long:
        return
    chosen = set(long)
    rest = [item for item in items if item not in chosen]
    blocks: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for rank, item in enumerate(long):  # dealt back and forth: 0, 1, 1, 0, 0, 1, ...
        turn, place = divmod(rank, workers)
        blocks[place if turn % 2 == 0 else workers - 1 - place].append(item)
    remaining = len(items)
    for number, block in enumerate(blocks):  # the sizes xdist's first split gives
        size = remaining // (workers - number)
        remaining -= size
        taken = max(0, size - len(block))
        block += rest[:taken]
        del rest[:taken]
    blocks[-1] += rest
    items[:] = [item for block in blocks for item in block]


def _weight(item: pytest.Item) -> int:
    """The reference solution's size: the more code, the more mutants, each a graded run
    (measured on the 96 exercises, it ranks their verify times with a correlation of 0.73)."""
    exercise = item.callspec.params["exercise"]  # type: ignore[attr-defined]
    solution = exercise.solution(ROOT)
    files = sorted(solution.rglob("*.py")) if solution.is_dir() else [solution]
    return sum(path.stat().st_size for path in files)
