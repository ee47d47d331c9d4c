"""The formats ``workbook grade`` writes: each as its own specification states it.

- ``json``: the workbook's own, for the instructor: everything (``classroom.Batch.to_json``).
- ``csv``: a gradebook, one row per submission, one column per exercise.
- ``junit``: JUnit XML as pytest writes it (``testsuites`` > ``testsuite`` > ``testcase``).
- ``gradescope``: Gradescope's ``results.json`` (score, tests with name, score, max_score,
  status, output, visibility), one per submission.
- ``github-classroom``: the result of GitHub Classroom's autograding runners
  (``{"version": 1, "status", "max_score", "tests": [...]}``), one per submission.

The student-facing two follow each exercise's ``feedback`` policy: ``points`` (its score
only), ``requirements`` (each requirement, met or not) or ``full`` (with the message).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import platform
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbook import messages
from workbook.classroom import Batch, ExerciseGrade, SubmissionGrade

FORMATS = ("json", "gradescope", "junit", "github-classroom", "csv")
PER_SUBMISSION = ("gradescope", "github-classroom")
INSTRUCTOR_NOTES = "Instructor notes"
SCORE_DIGITS = 4


@dataclass(frozen=True)
class StudentTest:
    """One line of what a student sees: an exercise, or one of its requirements."""

    name: str
    score: float
    max_score: float
    passed: bool
    output: str
    duration_s: float = 0.0
    filename: str = ""


def _exercise_output(graded: ExerciseGrade) -> str:
    if graded.flags:
        return messages.GRADE_FLAGGED
    return graded.message if graded.status != "passed" else ""


def student_tests(graded: ExerciseGrade) -> list[StudentTest]:
    """What the exercise's feedback policy lets a student see of its grade."""
    exercise = graded.exercise
    title = f"{exercise.id}: {exercise.title}"
    whole = StudentTest(
        title,
        round(graded.score, SCORE_DIGITS),
        graded.max_score,
        graded.status == "passed" and not graded.flags,
        "" if exercise.feedback == "points" else _exercise_output(graded),
        graded.duration_s,
        graded.path,
    )
    if exercise.feedback == "points" or not graded.tests or graded.flags:
        return [whole]
    count = len(graded.tests)
    share = round(graded.max_score / count, SCORE_DIGITS)
    last = round(graded.max_score - share * (count - 1), SCORE_DIGITS)  # shares sum to points
    lines = []
    for index, test in enumerate(graded.tests, 1):
        worth = last if index == count else share
        passed = test["status"] == "passed"
        output = ""
        if exercise.feedback == "full" and not passed:
            output = test["message"] + (f"\nhint: {test['hint']}" if test["hint"] else "")
        lines.append(
            StudentTest(
                f"{title}: {test['requirement']}",
                worth if passed else 0.0,
                worth,
                passed,
                output,
                test.get("duration_s") or 0.0,
                graded.path,
            )
        )
    return lines


def _notes(submission: SubmissionGrade) -> str:
    lines = [f"{f.path}: {f.status}" for f in submission.tampered]
    for graded in submission.flagged:
        lines += [f"{f.path}:{f.line}: {f.reason}" for f in graded.flags]
    if submission.problem:
        lines.append(submission.problem)
    return "\n".join(lines)


def gradescope(submission: SubmissionGrade) -> dict[str, Any]:
    """Gradescope's ``results.json`` for one submission."""
    tests: list[dict[str, Any]] = [
        {
            "name": line.name,
            "score": line.score,
            "max_score": line.max_score,
            "status": "passed" if line.passed else "failed",
            "output": line.output,
            "visibility": "visible",
        }
        for graded in submission.exercises
        for line in student_tests(graded)
    ]
    if notes := _notes(submission):  # hidden tests carry no points, so totals stay visible
        tests.append(
            {"name": INSTRUCTOR_NOTES, "status": "failed", "output": notes, "visibility": "hidden"}
        )
    output = submission.problem
    if submission.tampered:
        output = messages.GRADE_TAMPERED.format(count=len(submission.tampered))
    return {
        "score": submission.score,
        "execution_time": round(sum(e.duration_s for e in submission.exercises)),
        "output": output,
        "visibility": "visible",
        "tests": tests,
    }


def github_classroom(submission: SubmissionGrade) -> dict[str, Any]:
    """The autograding runners' result (``version`` 1) for one submission."""
    tests = [
        {
            "name": line.name,
            "status": "pass" if line.passed else "fail",
            "score": line.score,
            "message": line.output,
            "test_code": "",
            "filename": line.filename,
            "line_no": 0,
            "duration": round(line.duration_s * 1000),
        }
        for graded in submission.exercises
        for line in student_tests(graded)
    ]
    broken = submission.problem or any(e.status == "grader_error" for e in submission.exercises)
    status = "error" if broken else "pass" if submission.score >= submission.max_score else "fail"
    return {"version": 1, "status": status, "max_score": submission.max_score, "tests": tests}


def to_csv(batch: Batch) -> str:
    """The gradebook: one row per submission, a column per exercise; flags and tampering."""
    ids = [e.exercise.id for e in batch.submissions[0].exercises] if batch.submissions else []
    for submission in batch.submissions:
        ids += [e.exercise.id for e in submission.exercises if e.exercise.id not in ids]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", *ids, "flagged", "tampered", "problem"])
    for submission in batch.submissions:
        scores = {e.exercise.id: e.score for e in submission.exercises}
        writer.writerow(
            [
                submission.name,
                submission.score,
                submission.max_score,
                *(scores.get(i, "") for i in ids),
                "; ".join(e.exercise.id for e in submission.flagged),
                "; ".join(f"{f.path} ({f.status})" for f in submission.tampered),
                submission.problem,
            ]
        )
    return out.getvalue()


JUNIT_STATUS = {"failed": "failure", "timeout": "error", "crashed": "error", "error": "error"}


def _testcase(classname: str, name: str, seconds: float) -> ET.Element:
    return ET.Element("testcase", classname=classname, name=name, time=f"{seconds:.3f}")


def _add(case: ET.Element, tag: str, message: str, text: str = "") -> None:
    node = ET.SubElement(case, tag, message=message)
    if tag == "skipped":
        node.set("type", "pytest.skip")
    node.text = text or message


def _suite_cases(submission: SubmissionGrade) -> list[ET.Element]:
    cases = []
    if submission.problem:
        case = _testcase(submission.name, "submission", 0.0)
        _add(case, "error", submission.problem)
        cases.append(case)
    if submission.tampered:
        case = _testcase(submission.name, "locked_files", 0.0)
        text = "\n".join(f"{f.path}: {f.status}" for f in submission.tampered)
        _add(case, "failure", messages.GRADE_TAMPERED.format(count=len(submission.tampered)), text)
        cases.append(case)
    for graded in submission.exercises:
        classname = f"{submission.name}." + graded.exercise.id.replace("/", ".")
        if graded.flags:
            case = _testcase(classname, "integrity", 0.0)
            text = "\n".join(f"{f.path}:{f.line}: {f.reason}" for f in graded.flags)
            _add(case, "failure", messages.GRADE_FLAGGED, text)
            cases.append(case)
        if not graded.tests:
            case = _testcase(classname, "exercise", graded.duration_s)
            if graded.status == "grader_error" or graded.status in JUNIT_STATUS:
                _add(case, "error", graded.message or graded.status)
            elif graded.status != "passed":
                _add(case, "skipped", graded.message or graded.status)
            cases.append(case)
        for test in graded.tests:
            case = _testcase(classname, test["name"], test.get("duration_s") or 0.0)
            tag = JUNIT_STATUS.get(test["status"])
            if test["status"] == "skipped":
                _add(case, "skipped", test["message"] or "skipped")
            elif tag is not None:
                _add(case, tag, f"{test['requirement']}: {test['message']}")
            cases.append(case)
    return cases


def to_junit(batch: Batch) -> str:
    """JUnit XML, shaped as pytest's ``--junit-xml``: one ``testsuite`` per submission."""
    root = ET.Element("testsuites", name="workbook grade")
    stamp = datetime.now(UTC).astimezone().isoformat()
    for submission in batch.submissions:
        cases = _suite_cases(submission)
        counts = dict.fromkeys(("error", "failure", "skipped"), 0)
        for case in cases:
            for child in case:
                counts[child.tag] += 1
        suite = ET.SubElement(
            root,
            "testsuite",
            name=submission.name,
            errors=str(counts["error"]),
            failures=str(counts["failure"]),
            skipped=str(counts["skipped"]),
            tests=str(len(cases)),
            time=f"{sum(e.duration_s for e in submission.exercises):.3f}",
            timestamp=stamp,
            hostname=platform.node(),
        )
        suite.extend(cases)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode")


def to_json(batch: Batch) -> str:
    return json.dumps(batch.to_json(), indent=2) + "\n"


def render(batch: Batch, kind: str) -> str:
    """The whole batch in one document (for the per-submission formats: the first)."""
    if kind == "json":
        return to_json(batch)
    if kind == "csv":
        return to_csv(batch)
    if kind == "junit":
        return to_junit(batch)
    return render_one(batch.submissions[0], kind)


def render_one(submission: SubmissionGrade, kind: str) -> str:
    data = gradescope(submission) if kind == "gradescope" else github_classroom(submission)
    return json.dumps(data, indent=2) + "\n"


def write(batch: Batch, kind: str, output: Path | None) -> None:
    """Write the report: to ``output`` or stdout; per-submission formats for several
    submissions go to ``output`` as a folder, one ``<name>.json`` each."""
    if kind in PER_SUBMISSION and len(batch.submissions) > 1:
        assert output is not None
        output.mkdir(parents=True, exist_ok=True)
        for submission in batch.submissions:
            text = render_one(submission, kind)
            (output / f"{submission.name}.json").write_text(text, encoding="utf-8")
        return
    text = render(batch, kind)
    if output is None:
        sys.stdout.write(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    github_output = os.environ.get("GITHUB_OUTPUT")
    if kind == "github-classroom" and github_output:  # where the runner actions put it
        encoded = base64.b64encode(json.dumps(json.loads(text)).encode()).decode()
        with open(github_output, "a", encoding="utf-8") as sink:
            sink.write(f"result={encoded}\n")
