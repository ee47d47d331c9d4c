"""The author's check: every suite has teeth and every file is where the catalog says.

Every solution passes its suite; every stub fails each of its tests (unless the test is
marked ``stub_may_pass``) without hanging; every known-wrong variant fails; each stub has
a ``TODO``; each variant names its mistake; no stray files; solutions are clean under ruff.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook import grading
from workbook.catalog import Catalog, Exercise

TODO = "# TODO"
IGNORED = {"__pycache__", "__init__.py", "README.md", ".gitkeep"}


@dataclass
class ExerciseReport:
    id: str
    solution: str = "not run"
    stub: str = "not run"
    known_wrong: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "solution": self.solution,
            "stub": self.stub,
            "known_wrong": self.known_wrong,
            "problems": self.problems,
        }


@dataclass
class Report:
    exercises: list[ExerciseReport]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems and not any(e.problems for e in self.exercises)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "exercises": [e.to_json() for e in self.exercises],
            "problems": self.problems,
        }


def verify(catalog: Catalog, workers: int | None = None) -> Report:
    workers = workers or os.cpu_count() or 2
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reports = list(pool.map(lambda e: verify_exercise(catalog, e), catalog.exercises))
    return Report(reports, workbook_problems(catalog))


def workbook_problems(catalog: Catalog) -> list[str]:
    """What is wrong beyond any one exercise: stray files, solutions unclean under ruff."""
    return stray_files(catalog) + ruff_problems(catalog.root)


def verify_exercise(catalog: Catalog, exercise: Exercise) -> ExerciseReport:
    """One exercise: its solution passes, its stub and known-wrong variants fail."""
    report = ExerciseReport(exercise.id)
    root = catalog.root
    try:
        solution = grading.check(catalog, exercise, target="solutions")
        stub = grading.check(catalog, exercise, target="exercises")
        wrong = [
            (p, grading.check(catalog, exercise, target_file=p)) for p in exercise.known_wrong(root)
        ]
    except grading.GraderError as exc:
        report.problems.append(f"the grader failed: {exc}")
        return report
    report.solution, report.stub = solution.status, stub.status
    if not solution.passed:
        failing = [t["requirement"] for t in solution.tests if t["status"] != "passed"]
        report.problems.append(f"the solution does not pass: {solution.status} {failing}")
    report.problems += _stub_problems(stub)
    if len(wrong) < 2:
        report.problems.append(f"has {len(wrong)} known-wrong variants; at least 2 are needed")
    for path, result in wrong:
        report.known_wrong.append({"name": path.stem, "status": result.status})
        if result.passed:
            report.problems.append(f"known-wrong variant {path.name} passes the suite")
        if not _one_line_docstring(path):
            report.problems.append(f"{path.name} needs a one-line docstring naming its mistake")
    stub_source = exercise.stub(root)
    sources = stub_source.rglob("*.py") if stub_source.is_dir() else [stub_source]
    if not any(TODO in p.read_text(encoding="utf-8") for p in sources):
        report.problems.append(f"the stub has no `{TODO}` line")
    return report


def _stub_problems(stub: grading.CheckResult) -> list[str]:
    if stub.status in ("timeout", "crashed"):
        return [f"the untouched stub makes the suite end in {stub.status}: {stub.message}"]
    return [
        f"the untouched stub passes “{test['requirement']}” (mark it stub_may_pass if intended)"
        for test in stub.tests
        if test["status"] == "passed" and not test["stub_may_pass"]
    ]


def _one_line_docstring(path: Path) -> bool:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except SyntaxError:
        return False
    return doc is not None and bool(doc.strip()) and "\n" not in doc.strip()


def stray_files(catalog: Catalog) -> list[str]:
    """Files in exercises/, solutions/ and the suites' folders that no exercise owns."""
    root = catalog.root
    names = {(e.module, e.name) for e in catalog.exercises}
    modules = {e.module for e in catalog.exercises}
    problems = []
    for tree in ("exercises", "solutions"):
        for path in sorted((root / tree).glob("*/*")):
            key = (path.parent.name, path.name.removesuffix(".py"))
            if path.name not in IGNORED and key not in names:
                problems.append(f"{path.relative_to(root)} belongs to no exercise in the catalog")
    for module in modules:
        for path in sorted((root / "tests" / module).glob("test_*.py")):
            if (module, path.stem.removeprefix("test_")) not in names:
                problems.append(f"{path.relative_to(root)} grades no exercise in the catalog")
        for path in sorted((root / "tests" / module / "wrong").glob("*.py")):
            if (module, path.stem.split("__")[0]) not in names or "__" not in path.stem:
                problems.append(f"{path.relative_to(root)} is not named <exercise>__<mistake>.py")
    return problems


def ruff_problems(root: Path) -> list[str]:
    """Solutions must be clean under the project's ruff rules and formatting."""
    problems = []
    for command in (["check", "--quiet"], ["format", "--check", "--quiet"]):
        try:
            done = subprocess.run(
                [sys.executable, "-m", "ruff", *command, "solutions"],
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as exc:
            return [f"ruff could not run: {exc}"]
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            problems.append(f"ruff {command[0]} on solutions/ reports:\n{output}")
    return problems
