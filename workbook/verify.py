"""The author's check: every suite has teeth and every file is where the catalog says.

Every solution passes its suite; every stub fails each of its tests (unless the test is
marked ``stub_may_pass``) without hanging; every known-wrong variant (a diff of the
solution) fails; every mutant of the solution fails, unless it is declared equivalent
with a reason beside its suite; each stub has a ``TODO``; no stray files; solutions are
clean under ruff.

Every one of those runs is a job for the same runner a learner's check uses, forked warm
from one zygote and spread over every core.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook import grading, mutation, variants, zygote
from workbook.catalog import Catalog, Exercise
from workbook.launch import ColdLauncher, Launcher, base_env

TODO = "# TODO"
IGNORED = {"__pycache__", "__init__.py", "README.md", ".gitkeep"}
SEEDED_OPTION = "--seeded-app"
RUN_FIRST_OPTION = "--run-first"
MIN_KNOWN_WRONG = 3  # the typical mistakes each suite must be seen to reject


@dataclass
class MutantReport:
    """``total`` mutants: ``killed`` by the suite, ``equivalent`` as declared beside it (not
    run: a declaration is the author's word that no check can tell them apart), and the
    rest ``survived`` the suite, each a problem."""

    total: int = 0
    killed: int = 0
    equivalent: list[dict[str, str]] = field(default_factory=list)
    survived: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "killed": self.killed,
            "equivalent": self.equivalent,
            "survived": self.survived,
        }


@dataclass
class ExerciseReport:
    id: str
    solution: str = "not run"
    stub: str = "not run"
    known_wrong: list[dict[str, str]] = field(default_factory=list)
    mutants: MutantReport = field(default_factory=MutantReport)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "solution": self.solution,
            "stub": self.stub,
            "known_wrong": self.known_wrong,
            "mutants": self.mutants.to_json(),
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


@dataclass
class Job:
    """One grading run of the author's check."""

    exercise: Exercise
    kind: str  # solution | stub | wrong | mutant
    name: str = ""
    target_file: Path | None = None
    extra_args: tuple[str, ...] = ()
    mutant: mutation.Mutant | None = None
    seeded: bool = False  # a write-the-tests mutant: killed when the suite passes
    order: KillOrder | None = None  # where the checks that kill wrong versions are learnt
    result: grading.CheckResult | None = None
    error: str = ""


FAILING = ("failed", "error")


@dataclass
class KillOrder:
    """The checks that failed first for one exercise's earlier wrong versions, run first
    for the next ones.

    A wrong version's run stops at its first failing check, and mutants of nearby lines
    mostly fail the same check: the check that failed last runs first, then the others
    that have failed before, quickest first.  Only the order changes: a version none of
    them fails still meets every check, so no verdict depends on it.
    """

    killers: list[str] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arguments(self) -> tuple[str, ...]:
        with self.lock:
            if not self.killers:
                return ()
            last, *others = self.killers
            others.sort(key=lambda name: self.durations.get(name, 0.0))
        return tuple(arg for name in (last, *others) for arg in (RUN_FIRST_OPTION, name))

    def learn(self, result: grading.CheckResult) -> None:
        with self.lock:
            if result.passed:  # the solution: how long each check takes
                self.durations.update({t["name"]: t["duration_s"] or 0.0 for t in result.tests})
                return
            failed = next((t["name"] for t in result.tests if t["status"] in FAILING), None)
            if failed is not None:
                if failed in self.killers:
                    self.killers.remove(failed)
                self.killers.insert(0, failed)


Progress = Callable[[int, int], None]


def verify(
    catalog: Catalog,
    exercises: list[Exercise] | None = None,
    *,
    workers: int | None = None,
    launcher: Launcher | None = None,
    progress: Progress | None = None,
    whole_workbook: bool = True,
) -> Report:
    """Verify ``exercises`` (all by default); ``progress(done, total)`` follows the runs."""
    chosen = catalog.exercises if exercises is None else exercises
    with (
        tempfile.TemporaryDirectory(prefix="workbook-verify-") as folder,
        _launcher(catalog.root, launcher) as warm,
    ):
        plans = [_plan(catalog, exercise, Path(folder)) for exercise in chosen]
        jobs = [job for plan in plans for job in plan.jobs]
        _run_all(catalog, jobs, warm, workers or os.cpu_count() or 2, progress)
        reports = [plan.report() for plan in plans]
    problems = workbook_problems(catalog) if whole_workbook else []
    return Report(reports, problems)


@contextmanager
def _launcher(root: Path, given: Launcher | None) -> Iterator[Launcher]:
    if given is not None:
        yield given
        return
    if not zygote.available():
        yield ColdLauncher()
        return
    warm = zygote.Zygote(base_env(root), eager=True)
    try:
        yield warm
    finally:
        warm.close()


def _run_all(
    catalog: Catalog, jobs: list[Job], launcher: Launcher, workers: int, progress: Progress | None
) -> None:
    done, lock = 0, threading.Lock()

    def run(job: Job) -> None:
        nonlocal done
        first = job.order.arguments() if job.order is not None and job.kind != "solution" else ()
        try:
            job.result = grading.check(
                catalog,
                job.exercise,
                target="solutions" if job.kind in ("solution", "mutant") else "exercises",
                target_file=job.target_file,
                launcher=launcher,
                stop_first=job.kind in ("wrong", "mutant"),  # they need only fail
                extra_args=(*job.extra_args, *first),
            )
        except grading.GraderError as exc:
            job.error = str(exc)
        else:
            if job.order is not None:
                job.order.learn(job.result)
        with lock:
            done += 1
            if progress is not None:
                progress(done, len(jobs))

    if progress is not None:
        progress(0, len(jobs))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(run, jobs))


@dataclass
class _ExercisePlan:
    """One exercise's jobs, and how their results become its report."""

    catalog: Catalog
    exercise: Exercise
    jobs: list[Job] = field(default_factory=list)
    plan: mutation.Plan | None = None
    mutants: list[mutation.Mutant] = field(default_factory=list)
    equivalent: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def report(self) -> ExerciseReport:
        report = ExerciseReport(self.exercise.id, problems=list(self.problems))
        errors = [job for job in self.jobs if job.error]
        if errors:
            report.problems += [f"the grader failed: {job.error}" for job in errors]
            return report
        by_kind: dict[str, list[Job]] = {}
        for job in self.jobs:
            by_kind.setdefault(job.kind, []).append(job)
        solution = by_kind["solution"][0].result
        stub = by_kind["stub"][0].result
        assert solution is not None
        assert stub is not None
        report.solution, report.stub = solution.status, stub.status
        if not solution.passed:
            failing = [t["requirement"] for t in solution.tests if t["status"] != "passed"]
            report.problems.append(f"the solution does not pass: {solution.status} {failing}")
        for flag in solution.flags:  # a reference the guard flags would flag every learner
            where = f"{flag['path']}:{flag['line']}" if flag["line"] else flag["path"]
            report.problems.append(f"the guard flags the solution: {flag['reason']} ({where})")
        report.problems += _stub_problems(stub)
        wrong = by_kind.get("wrong", [])
        if len(wrong) < MIN_KNOWN_WRONG:
            report.problems.append(
                f"has {len(wrong)} known-wrong variants; at least {MIN_KNOWN_WRONG} are needed"
            )
        for job in wrong:
            assert job.result is not None
            report.known_wrong.append({"name": job.name, "status": job.result.status})
            if job.result.passed:
                report.problems.append(f"known-wrong variant {job.name}.diff passes the suite")
        report.mutants = self._mutants(by_kind.get("mutant", []), report.problems)
        return report

    def _mutants(self, jobs: list[Job], problems: list[str]) -> MutantReport:
        plan = self.plan
        if plan is None:
            return MutantReport()
        found = MutantReport(total=len(self.mutants), equivalent=list(self.equivalent))
        for job in jobs:
            assert job.result is not None
            assert job.mutant is not None
            killed = job.result.passed if job.seeded else not job.result.passed
            if killed:
                found.killed += 1
                continue
            found.survived.append({"diff": job.mutant.diff})
            problems.append(
                f"a mutant survives ({job.mutant.operator}, line {job.mutant.line}): "
                f"add a test that kills it, or declare it equivalent in "
                f"{_relative(plan.path, self.catalog.root)}:\n"
                f"{textwrap.indent(job.mutant.diff, '    ')}"
            )
        problems += mutation.unused_declarations(plan, self.mutants)
        return found


def _plan(catalog: Catalog, exercise: Exercise, folder: Path) -> _ExercisePlan:
    root = catalog.root
    plan = _ExercisePlan(catalog, exercise)
    order = KillOrder()
    plan.jobs += [Job(exercise, "solution", order=order), Job(exercise, "stub")]
    solution = exercise.solution(root)
    stub_source = exercise.stub(root)
    sources = stub_source.rglob("*.py") if stub_source.is_dir() else [stub_source]
    if not any(TODO in p.read_text(encoding="utf-8") for p in sources):
        plan.problems.append(f"the stub has no `{TODO}` line")
    if solution.is_dir():  # diffs and mutants of a package are not supported yet
        plan.problems.append("known-wrong variants and mutants need a one-file solution")
        return plan
    original = solution.read_text(encoding="utf-8")
    work = folder / exercise.id.replace("/", "__")
    work.mkdir(parents=True)
    for path in exercise.known_wrong(root):
        try:
            variant = variants.read(path)
            code = variants.apply(variant, original)
        except variants.DiffError as exc:
            plan.problems.append(str(exc))
            continue
        target = work / f"{variant.name}.py"
        target.write_text(code, encoding="utf-8")
        plan.jobs.append(Job(exercise, "wrong", variant.name, target, order=order))
    plan.plan = mutation.load_plan(_plan_path(catalog, exercise))
    region = plan.plan.region(original)
    plan.problems += plan.plan.problems
    plan.mutants = mutation.mutants(original, region)
    for number, mutant in enumerate(plan.mutants, 1):
        reason = plan.plan.reason(mutant)
        if reason is not None:  # declared equivalent: no check can fail it, so none runs
            plan.equivalent.append({"diff": mutant.diff, "reason": reason})
            continue
        target = work / f"{exercise.name}__mutant_{number:03}.py"
        target.write_text(mutant.source, encoding="utf-8")
        if plan.plan.seeded:  # the reference's own tests must catch the mutant app
            job = Job(exercise, "mutant", target.stem, None, (SEEDED_OPTION, str(target)))
            job.seeded = True
        else:
            job = Job(exercise, "mutant", target.stem, target, order=order)
        job.mutant = mutant
        plan.jobs.append(job)
    return plan


def _plan_path(catalog: Catalog, exercise: Exercise) -> Path:
    return catalog.root / "tests" / exercise.module / "mutants" / f"{exercise.name}.toml"


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _stub_problems(stub: grading.CheckResult) -> list[str]:
    if stub.status in ("timeout", "crashed"):
        return [f"the untouched stub makes the suite end in {stub.status}: {stub.message}"]
    return [
        f"the untouched stub passes “{test['requirement']}” (mark it stub_may_pass if intended)"
        for test in stub.tests
        if test["status"] == "passed" and not test["stub_may_pass"]
    ]


def workbook_problems(catalog: Catalog) -> list[str]:
    """What is wrong beyond any one exercise: stray files, solutions unclean under ruff."""
    return stray_files(catalog) + ruff_problems(catalog.root)


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
        suites = root / "tests" / module
        for path in sorted(suites.glob("test_*.py")):
            if (module, path.stem.removeprefix("test_")) not in names:
                problems.append(f"{path.relative_to(root)} grades no exercise in the catalog")
        for path in sorted((suites / "wrong").glob("*")):
            owned = (module, path.stem.split("__")[0]) in names and "__" in path.stem
            if path.name not in IGNORED and (path.suffix != ".diff" or not owned):
                problems.append(f"{path.relative_to(root)} is not named <exercise>__<mistake>.diff")
        for path in sorted((suites / "mutants").glob("*")):
            if path.name not in IGNORED and (
                path.suffix != ".toml" or (module, path.stem) not in names
            ):
                problems.append(f"{path.relative_to(root)} is not named <exercise>.toml")
    return problems


def ruff_problems(root: Path) -> list[str]:
    """Solutions must be clean under the project's ruff rules and formatting."""
    problems = []
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    for command in (["check", "--quiet"], ["format", "--check", "--quiet"]):
        base = [ruff] if ruff else [sys.executable, "-m", "ruff"]
        try:
            done = subprocess.run(
                [*base, *command, "solutions"],
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
