"""``workbook class-report``: a graded batch as the instructor's overview, in plain data.

It reads what ``workbook grade --format json`` writes (one file or several, merged by
submission name: a later file's grade of a name replaces an earlier one) and, where a
submission came with its progress file (``.workbook/state.json``: hints used, solutions
peeked at), that too: from the grade's own ``progress`` entry when it carries one, else
from the submission's folder or zip named in ``source``.  Nothing here trusts the
submissions; :mod:`workbook.class_page` turns the result into one HTML page.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbook.class_progress import progress_of
from workbook.state import ExerciseState

SCHEMA_VERSION = 1
NOT_RUN = ("not_attempted", "missing", "grader_error", "pending")
BROKEN = ("error", "timeout", "crashed")
MESSAGE_CHARS = 240
SCORE_BINS = ("0%", "1-24%", "25-49%", "50-74%", "75-99%", "100%")


class ClassReportError(Exception):
    """The results cannot be read: the message says which file and why."""


@dataclass
class Requirement:
    name: str  # the test's name: the key across submissions
    text: str  # the requirement in the learner's words


@dataclass
class ExerciseColumn:
    id: str
    title: str
    max_score: float
    requirements: list[Requirement] = field(default_factory=list)


@dataclass
class ExerciseGrade:
    status: str
    score: float
    flagged: bool
    message: str
    tests: dict[str, tuple[str, str]]  # test name -> (status, message)
    score_if_trusted: float | None = None


@dataclass
class Student:
    name: str
    score: float
    max_score: float
    problem: str = ""
    notes: list[str] = field(default_factory=list)  # what needs the instructor's eye
    exercises: dict[str, ExerciseGrade] = field(default_factory=dict)
    progress: dict[str, ExerciseState] | None = None

    def cell(self, exercise: str, test: str) -> tuple[str, str]:
        """The (status, message) of one requirement; ``not_run`` when it never ran."""
        graded = self.exercises.get(exercise)
        if graded is None or graded.status in NOT_RUN:
            return "not_run", graded.message if graded else ""
        if test in graded.tests:
            return graded.tests[test]
        if graded.status in BROKEN:  # the run ended before this requirement reported
            return graded.status, graded.message
        return "not_run", ""


@dataclass
class ClassData:
    students: list[Student]
    exercises: list[ExerciseColumn]
    max_score: float
    generated_at: str
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def has_progress(self) -> bool:
        return any(s.progress is not None for s in self.students)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in _list(value) if isinstance(item, dict)]


def read_results(path: Path) -> dict[str, Any]:
    """One file ``workbook grade --format json`` wrote, checked for its shape."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ClassReportError(f"{path}: cannot be read ({exc})") from None
    except ValueError as exc:
        raise ClassReportError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("submissions"), list):
        raise ClassReportError(f"{path}: not what `workbook grade --format json` writes")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ClassReportError(
            f"{path}: schema version {data.get('schema_version')!r}, "
            f"this workbook reads {SCHEMA_VERSION}"
        )
    return data


def load(
    paths: list[Path], *, progress: bool = True, anonymous: bool = False, base: Path | None = None
) -> ClassData:
    """Merge the result files into one class; read progress files unless told not to."""
    data = ClassData([], [], 0.0, datetime.now(UTC).isoformat(timespec="seconds"))
    columns: dict[str, ExerciseColumn] = {}
    students: dict[str, Student] = {}
    for path in paths:
        results = read_results(path)
        data.warnings += [_text(w) for w in _list(results.get("warnings")) if w]
        data.problems += [_text(p) for p in _list(results.get("problems")) if p]
        data.max_score = max(data.max_score, _number(results.get("max_score")))
        for raw in _dicts(results.get("submissions")):
            student = _student(raw, columns)
            if student.name in students:
                data.warnings.append(
                    f"{student.name} is graded in several files: the grade in {path.name} is shown"
                )
            if progress:
                student.progress = progress_of(raw, base or Path.cwd())
            students[student.name] = student
    data.students = list(students.values())
    data.exercises = list(columns.values())
    if anonymous:
        width = len(str(len(data.students)))
        for number, student in enumerate(data.students, 1):
            student.name = f"student {number:0{width}d}"
        data.warnings = [w for w in data.warnings if " is graded in several files" not in w]
    data.warnings = list(dict.fromkeys(data.warnings))
    data.problems = list(dict.fromkeys(data.problems))
    return data


def _student(raw: dict[str, Any], columns: dict[str, ExerciseColumn]) -> Student:
    student = Student(
        _text(raw.get("name")) or "(unnamed)",
        _number(raw.get("score")),
        _number(raw.get("max_score")),
        _text(raw.get("problem")),
    )
    if student.problem:
        student.notes.append(student.problem)
    for finding in _dicts(raw.get("tampered")):
        student.notes.append(
            f"locked file {_text(finding.get('path'))}: {_text(finding.get('status'))}"
        )
    for item in _dicts(raw.get("exercises")):
        exercise_id = _text(item.get("id"))
        if not exercise_id:
            continue
        column = columns.setdefault(
            exercise_id,
            ExerciseColumn(exercise_id, _text(item.get("title")), _number(item.get("max_score"))),
        )
        known = {r.name for r in column.requirements}
        tests: dict[str, tuple[str, str]] = {}
        for test in _dicts(item.get("tests")):
            name = _text(test.get("name"))
            if not name:
                continue
            if name not in known:
                known.add(name)
                column.requirements.append(Requirement(name, _text(test.get("requirement"))))
            tests[name] = (_text(test.get("status")), _short(_text(test.get("message"))))
        status = _text(item.get("status"))
        graded = ExerciseGrade(
            status,
            _number(item.get("score")),
            bool(item.get("flagged")) or bool(_list(item.get("flags"))),
            _short(_text(item.get("message"))),
            tests,
            _number(item["score_if_trusted"]) if item.get("score_if_trusted") is not None else None,
        )
        student.exercises[exercise_id] = graded
        for flag in _dicts(item.get("flags")):
            where = f"{_text(flag.get('path'))}:{_text(flag.get('line'))}"
            student.notes.append(f"flagged {where}: {_text(flag.get('reason'))}")
        if status == "grader_error":
            student.notes.append(f"the grader failed on {exercise_id}: {graded.message}")
    return student


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


# -- figures -----------------------------------------------------------------------------


def score_bin(score: float, max_score: float) -> int:
    """Which of SCORE_BINS a score falls in."""
    if max_score <= 0 or score <= 0:
        return 0
    share = score / max_score
    if share >= 1:
        return len(SCORE_BINS) - 1
    return 1 + min(3, int(share * 4))


@dataclass
class RowCounts:
    passed: int = 0
    failed: int = 0  # failed, errored, timed out, crashed or skipped: not met
    not_run: int = 0

    @property
    def graded(self) -> int:
        return self.passed + self.failed


def row_counts(data: ClassData, exercise: str, test: str) -> RowCounts:
    counts = RowCounts()
    for student in data.students:
        status, _ = student.cell(exercise, test)
        if status == "passed":
            counts.passed += 1
        elif status == "not_run":
            counts.not_run += 1
        else:
            counts.failed += 1
    return counts


def failing_most(
    data: ClassData, limit: int = 15
) -> list[tuple[ExerciseColumn, Requirement, RowCounts]]:
    """The requirements most often not met among the submissions that ran them."""
    rows = [
        (column, requirement, row_counts(data, column.id, requirement.name))
        for column in data.exercises
        for requirement in column.requirements
    ]
    rows = [row for row in rows if row[2].failed]
    rows.sort(key=lambda row: (-row[2].failed / row[2].graded, -row[2].failed))
    return rows[:limit]


def hints_for(data: ClassData, exercise: str) -> tuple[int, int, int]:
    """(hints used in all, students who used any, students who peeked) for one exercise."""
    used = users = peeked = 0
    for student in data.students:
        state = (student.progress or {}).get(exercise)
        if state is None:
            continue
        used += state.hints_shown
        users += state.hints_shown > 0
        peeked += state.peeked
    return used, users, peeked


def write_private(path: Path, text: str) -> None:
    """Write the page readable by its owner alone: it holds every student's grades."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)
