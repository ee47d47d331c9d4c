"""``workbook grade``: grade student submissions with the instructor's own suites.

Only each submission's exercise files are used: they are copied (regular files only) into
a folder this process owns, and graded there by the instructor's catalog, suites and
pytest configuration, so nothing of the submission's tests, conftest or config applies.
Every (submission, exercise) run is a child process with its own limits, spread over a
thread pool; one broken or hostile submission never stops the batch.

Scores: exercise points * requirements passed / requirements.  An exercise file that is
still the stub (ignoring comments and layout) is not attempted and scores 0 unrun.  An
exercise whose file reaches for the grader (see :mod:`workbook.tamper`) is flagged for the
instructor and scores 0 unless ``trust`` is set; what it would have scored is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook import grading, messages, release, submissions, tamper, zygote
from workbook.catalog import FILENAME, Catalog, Exercise
from workbook.launch import Account, ColdLauncher, Launcher, base_env
from workbook.submissions import Submission, code_files, open_all

SCHEMA_VERSION = 1
NOT_RUN = ("not_attempted", "missing", "refused", "grader_error")
PROBE = (  # what a grading child needs: the stack, and to read the catalog and the suites
    "import sys, fastapi, pytest, workbook.child\nfor name in sys.argv[1:]: open(name).close()"
)
PROBE_TIMEOUT_S = 120
WARM_FROM = 16  # runs: from here a warm zygote's start pays for itself (forks, not imports)

Progress = Callable[[int, int], None]


@dataclass
class ExerciseGrade:
    exercise: Exercise
    status: str  # a check status, or not_attempted | missing | refused | grader_error
    score: float = 0.0
    message: str = ""
    flags: list[tamper.Flag] = field(default_factory=list)
    score_if_trusted: float | None = None  # a flagged exercise's score, had it been trusted
    duration_s: float = 0.0
    tests: list[dict[str, Any]] = field(default_factory=list)
    path: str = ""  # the exercise's file (or folder) in the submission
    target: Path | None = None  # the copy that is graded

    @property
    def max_score(self) -> int:
        return self.exercise.points

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.exercise.id,
            "path": self.path,
            "title": self.exercise.title,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "feedback": self.exercise.feedback,
            "flagged": bool(self.flags),
            "flags": [{"path": f.path, "line": f.line, "reason": f.reason} for f in self.flags],
            "score_if_trusted": self.score_if_trusted,
            "message": self.message,
            "duration_s": self.duration_s,
            "tests": self.tests,
        }


@dataclass
class SubmissionGrade:
    name: str
    source: str
    problem: str = ""  # it could not be opened
    tampered: list[tamper.Finding] = field(default_factory=list)
    exercises: list[ExerciseGrade] = field(default_factory=list)
    max_score: int = 0

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 2)

    @property
    def flagged(self) -> list[ExerciseGrade]:
        return [e for e in self.exercises if e.flags]

    @property
    def needs_attention(self) -> bool:
        return bool(
            self.problem
            or self.tampered
            or self.flagged
            or any(e.status == "grader_error" for e in self.exercises)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "score": self.score,
            "max_score": self.max_score,
            "problem": self.problem,
            "tampered": [{"path": f.path, "status": f.status} for f in self.tampered],
            "exercises": [e.to_json() for e in self.exercises],
        }


@dataclass
class Batch:
    submissions: list[SubmissionGrade]
    max_score: int
    trusted: bool = False
    manifest: str | None = None
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the grading itself cannot be trusted

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "max_score": self.max_score,
            "trusted": self.trusted,
            "manifest": self.manifest,
            "warnings": self.warnings,
            "problems": self.problems,
            "submissions": [s.to_json() for s in self.submissions],
        }


def manifest_for(root: Path, given: Path | None) -> Path | None:
    """The release manifest to compare with: ``--manifest``, else the one release kept."""
    if given is not None:
        return given
    kept = root / release.KEPT_MANIFEST
    return kept if kept.is_file() else None


class SetupError(Exception):
    """Grading cannot start as asked (for instance, the ``--run-as`` account cannot run it)."""


def grade(
    catalog: Catalog,
    sources: list[str],
    *,
    manifest: Path | None = None,
    trust: bool = False,
    workers: int | None = None,
    launcher: Launcher | None = None,
    progress: Progress | None = None,
    run_as: str | None = None,
) -> Batch:
    """Grade every submission in ``sources`` against the instructor's ``catalog``.

    ``run_as``: the name of an unprivileged account every grading child runs as (needs
    root); the instructor's files need only be readable by it.
    """
    root = catalog.root
    batch = Batch([], sum(e.points for e in catalog.exercises), trust)
    locked = None
    if manifest is None:
        batch.warnings.append(messages.GRADE_NO_MANIFEST)
    else:
        locked = tamper.read_manifest(manifest)
        batch.manifest = str(manifest)
    before = release.fingerprint(root)
    with tempfile.TemporaryDirectory(prefix="workbook-grade-") as folder:
        scratch = Path(folder)
        account = _account(run_as, scratch, catalog) if run_as else None
        runs: list[ExerciseGrade] = []
        for submission in open_all(sources, scratch):
            graded = _intake(catalog, submission, locked, scratch)
            batch.submissions.append(graded)
            graded.max_score = batch.max_score
            runs += [e for e in graded.exercises if e.target is not None]
        if account is not None:
            _readable(scratch / "graded")
        with _launcher(root, launcher, len(runs), account) as chosen:
            _run_all(catalog, runs, chosen, workers or os.cpu_count() or 2, progress)
    for graded in batch.submissions:
        for exercise in graded.exercises:
            _score(exercise, trust)
    if release.fingerprint(root) != before:
        batch.problems.append(messages.GRADE_INSTRUCTOR_CHANGED)
    return batch


def _intake(
    catalog: Catalog, submission: Submission, locked: dict[str, str] | None, scratch: Path
) -> SubmissionGrade:
    graded = SubmissionGrade(submission.name, submission.source, submission.problem)
    if submission.root is None:
        return graded
    if locked is not None:
        graded.tampered = tamper.locked_changes(submission.root, locked)
    work = scratch / "graded" / submission.name
    for exercise in catalog.exercises:
        graded.exercises.append(_prepare(catalog, exercise, submission.root, work))
    return graded


def _prepare(catalog: Catalog, exercise: Exercise, submitted: Path, work: Path) -> ExerciseGrade:
    """Copy one exercise out of the submission, scan it, and say whether it needs a run."""
    graded = ExerciseGrade(exercise, "missing")
    source = exercise.stub(submitted)
    relative = source.relative_to(submitted).as_posix()
    graded.path = relative
    files = submissions.exercise_files(submitted, source)
    if files is None:
        graded.message = messages.GRADE_MISSING.format(path=relative)
        return graded
    if not files:
        graded.status, graded.message = "refused", messages.GRADE_LINKED.format(path=relative)
        graded.flags.append(tamper.Flag(relative, 0, messages.GRADE_LINKED.format(path=relative)))
        return graded
    stub = exercise.stub(catalog.root)
    if submissions.same_code(files, source, stub):
        graded.status, graded.message = "not_attempted", messages.GRADE_NOT_ATTEMPTED
        return graded
    instructors = [*code_files(stub), *code_files(exercise.solution(catalog.root))]
    allowed = tamper.imported_modules(
        [p.read_text(encoding="utf-8", errors="replace") for p in instructors]
    )
    target = work / relative
    for path in files:
        copy = target if source.is_file() else target / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        if path.suffix == ".py":
            text = path.read_text(encoding="utf-8", errors="replace")
            where = path.relative_to(submitted).as_posix()
            graded.flags += tamper.scan(where, text, allowed)
    graded.status, graded.target = "pending", target
    return graded


def _account(name: str, scratch: Path, catalog: Catalog) -> Account:
    """The ``--run-as`` account, with a home in the scratch folder, proven able to grade."""
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise SetupError(messages.GRADE_NO_ACCOUNT.format(name=name)) from None
    scratch.chmod(0o755)  # the account reads the graded copies below it
    home = scratch / "home"
    home.mkdir(mode=0o700)
    account = Account(name, entry.pw_uid, entry.pw_gid, home)
    root = catalog.root
    suites = [str(e.suite(root)) for e in catalog.exercises[:1]]
    try:
        os.chown(home, account.uid, account.gid)
        probe = subprocess.run(
            [sys.executable, "-I", "-B", "-c", PROBE, str(root / FILENAME), *suites],
            cwd=root,
            env=account.env(base_env(root)),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            **account.popen(),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SetupError(messages.GRADE_ACCOUNT_FAILED.format(name=name, why=exc)) from None
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or [f"exit code {probe.returncode}"])[-1]
        raise SetupError(messages.GRADE_ACCOUNT_FAILED.format(name=name, why=why))
    return account


def _readable(folder: Path) -> None:
    """Let the ``--run-as`` account read the graded copies (and nothing more)."""
    for path in [folder, *folder.rglob("*")] if folder.is_dir() else []:
        path.chmod(0o755 if path.is_dir() else 0o644)


@contextmanager
def _launcher(
    root: Path, given: Launcher | None, runs: int, account: Account | None = None
) -> Iterator[Launcher]:
    if given is not None:
        yield given
        return
    if runs < WARM_FROM or not zygote.available():
        yield ColdLauncher(account)
        return
    warm = zygote.Zygote(base_env(root), eager=True, account=account)
    try:
        yield warm
    finally:
        warm.close()


def _run_all(
    catalog: Catalog,
    runs: list[ExerciseGrade],
    launcher: Launcher,
    workers: int,
    progress: Progress | None,
) -> None:
    done, lock = 0, threading.Lock()

    def run(graded: ExerciseGrade) -> None:
        nonlocal done
        try:
            result = grading.check(
                catalog, graded.exercise, target_file=graded.target, launcher=launcher
            )
        except Exception as exc:  # the grader's failure: never a verdict on the submission
            graded.status = "grader_error"
            graded.message = messages.GRADE_GRADER_ERROR.format(error=f"{exc}")
        else:
            graded.status, graded.score = result.status, result.score
            graded.message, graded.duration_s = result.message, result.duration_s
            graded.tests = result.tests
            graded.flags += [_runtime_flag(graded, flag) for flag in result.flags]
        with lock:
            done += 1
            if progress is not None:
                progress(done, len(runs))

    if progress is not None:
        progress(0, len(runs))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(run, runs))


def _runtime_flag(graded: ExerciseGrade, flag: dict[str, Any]) -> tamper.Flag:
    """What the guard saw at run time, placed in the submission's file where it lies there."""
    where, target = flag["path"], graded.target
    if target is not None and where and Path(where).is_absolute():
        path = Path(where)
        if path == target:
            where = graded.path
        elif path.is_relative_to(target):
            where = f"{graded.path}/{path.relative_to(target).as_posix()}"
    reason = messages.GRADE_AT_RUN_TIME.format(reason=flag["reason"])
    return tamper.Flag(where or graded.path, flag["line"], reason)


def _score(graded: ExerciseGrade, trust: bool) -> None:
    if graded.status in NOT_RUN or graded.status == "pending":
        graded.score = 0.0
    if graded.flags and not trust:
        graded.score_if_trusted, graded.score = graded.score, 0.0
