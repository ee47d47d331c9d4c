"""One grading run turned into the result object the CLI renders and ``--json`` prints."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbook import runner
from workbook.catalog import Catalog, Exercise
from workbook.launch import Child, Launcher

SCHEMA_VERSION = 1
SEVERITY = ("crashed", "timeout", "error")


class GraderError(Exception):
    """The grader itself failed: never the learner's fault, never a verdict on their code."""


@dataclass
class CheckResult:
    exercise: str
    title: str
    target: str
    status: str
    score: float
    max_score: int
    duration_s: float
    tests: list[dict[str, Any]]
    message: str = ""
    output: str = ""
    schema_version: int = SCHEMA_VERSION
    hint: str = ""
    lesson: str = ""
    flags: list[dict[str, Any]] = field(default_factory=list)
    """Learner code that reached into the grader at run time (see :mod:`workbook.guard`)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


def limits_for(exercise: Exercise) -> runner.Limits:
    return runner.Limits(test_timeout=exercise.test_timeout, run_timeout=exercise.run_timeout)


def verdict(outcome: runner.RunOutcome) -> str:
    """The run's status: the most severe of the tests', a pass only if every test passed."""
    if outcome.ended in ("crashed", "timeout"):
        return outcome.ended
    statuses = {test.status for test in outcome.tests}
    for status in SEVERITY:
        if status in statuses:
            return status
    if outcome.tests and statuses == {"passed"}:
        return "passed"
    return "failed"


def check(
    catalog: Catalog,
    exercise: Exercise,
    *,
    target: str = "exercises",
    target_file: Path | None = None,
    limits: runner.Limits | None = None,
    launcher: Launcher | None = None,
    on_launch: Callable[[Child], None] | None = None,
    stop_first: bool = False,
    extra_args: Sequence[str] = (),
) -> CheckResult:
    """Grade ``exercise`` in the ``target`` tree (or ``target_file``) in a fresh child."""
    started = time.monotonic()
    suite = exercise.suite(catalog.root)
    if not suite.is_file():
        raise GraderError(f"the suite {suite} is missing")
    outcome = runner.run(
        suite,
        catalog.root,
        limits or limits_for(exercise),
        target=target,
        target_file=target_file,
        launcher=launcher,
        on_launch=on_launch,
        stop_first=stop_first,
        extra_args=extra_args,
    )
    if outcome.ended == "internal":
        raise GraderError(outcome.message)
    status = verdict(outcome)
    passed = sum(test.status == "passed" for test in outcome.tests)
    total = len(outcome.tests)
    return CheckResult(
        exercise=exercise.id,
        title=exercise.title,
        target=str(target_file) if target_file else target,
        status=status,
        score=round(exercise.points * passed / total, 2) if total else 0.0,
        max_score=exercise.points,
        duration_s=round(time.monotonic() - started, 3),
        tests=[_test_json(test) for test in outcome.tests],
        message=outcome.message,
        output=outcome.output if status != "passed" else "",
        lesson=exercise.lesson_link(),
        flags=[_flag_json(flag, catalog.root) for flag in outcome.flags],
        extra={"public_checks_only": True} if catalog.student_edition else {},
    )


def _flag_json(flag: dict[str, Any], root: Path) -> dict[str, Any]:
    """A flag with its file relative to the workbook, where it lies inside it."""
    path = flag["path"]
    if path and Path(path).is_absolute() and Path(path).is_relative_to(root):
        path = Path(path).relative_to(root).as_posix()
    return {**flag, "path": path}


def _test_json(test: runner.TestOutcome) -> dict[str, Any]:
    return {
        "name": test.name,
        "requirement": test.requirement,
        "status": test.status,
        "message": test.message,
        "hint": test.help or "",
        "duration_s": test.duration_s,
        "details": test.details,
        "output": test.output,
        "stub_may_pass": test.stub_may_pass,
    }
