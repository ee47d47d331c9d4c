"""`workbook autograder`: the grader for Gradescope and GitHub Classroom, and its scripts."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from workbook import catalog as catalog_module
from workbook import release
from workbook.cli import app

WORKFLOW = "github-classroom/template/.github/workflows/classroom.yml"


def run(root: Path, *args: str):
    return CliRunner().invoke(app, ["--root", str(root), *args])


def words(text: str) -> str:
    return " ".join(text.split())


def bundle(sample: Path, tmp_path: Path, *args: str) -> Path:
    destination = tmp_path / "autograder"
    result = run(sample, "autograder", str(destination), *args)
    assert result.exit_code == 0, result.output
    return destination


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def test_the_gradescope_bundle_holds_what_gradescope_runs(sample, tmp_path):
    folder = bundle(sample, tmp_path, "--platform", "gradescope") / "gradescope"
    files = files_in(folder)
    assert {
        "setup.sh",
        "run_autograder",
        "curriculum.toml",
        "exercises/01_basics/02_square.py",
        "solutions/01_basics/02_square.py",
        "tests/01_basics/test_02_square.py",
        "lessons/01-basics.md",
        "workbook/__main__.py",
        "workbook/grading.ini",
    } <= files
    assert not [f for f in files if "/wrong/" in f or "__pycache__" in f or "/mutants/" in f]
    assert executable(folder / "run_autograder")
    assert executable(folder / "setup.sh")
    assert catalog_module.load(folder).exercises  # the bundle's catalog stands on its own
    assert not (folder.parent / "github-classroom").exists()


def test_the_zip_has_both_scripts_at_its_root_and_executable(sample, tmp_path):
    archive = bundle(sample, tmp_path, "--platform", "gradescope") / "gradescope.zip"
    with zipfile.ZipFile(archive) as zipped:
        names = {info.filename: info for info in zipped.infolist()}
        for script in ("setup.sh", "run_autograder"):
            assert stat.S_IMODE(names[script].external_attr >> 16) & stat.S_IXUSR, script
        assert "tests/01_basics/test_01_greeting.py" in names
        assert not [n for n in names if n.startswith(("gradescope/", "/"))]


def test_the_scripts_use_gradescopes_paths(sample, tmp_path):
    folder = bundle(sample, tmp_path, "--platform", "gradescope") / "gradescope"
    setup = (folder / "setup.sh").read_text()
    assert setup.startswith("#!/usr/bin/env bash\n")
    assert "source_dir=/autograder/source" in setup
    assert "Ubuntu 22.04" in setup
    assert "sync --frozen --no-default-groups" in setup
    assert "check 01_basics/01_greeting --target solutions" in setup  # proves a grading child
    assert f"--python {sys.version_info.major}.{sys.version_info.minor}" in setup
    runner = (folder / "run_autograder").read_text()
    assert "/autograder" in runner
    assert 'results="$root/results/results.json"' in runner
    assert 'grade "$root/submission" --format gradescope' in runner
    completed = subprocess.run(["bash", "-n", str(folder / "run_autograder")], check=False)
    assert completed.returncode == 0


def test_the_classroom_workflow_reports_what_the_grade_writes(sample, tmp_path):
    destination = bundle(sample, tmp_path, "--platform", "github-classroom")
    assert not (destination / "gradescope").exists()
    assert "curriculum.toml" in files_in(destination / "github-classroom/grader")
    workflow = yaml.safe_load((destination / WORKFLOW).read_text())
    assert workflow["name"] == "Autograding Tests"
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    job = workflow["jobs"]["run-autograding-tests"]
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    steps = {step.get("id") or step["name"]: step for step in job["steps"]}
    grade = steps["workbook"]["run"]
    assert "--root grader grade submission" in grade
    assert "--format github-classroom" in grade
    reporter = steps["Autograding Reporter"]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"] == {"runners": "workbook"}
    # the reporter reads <RUNNER ID in capitals>_RESULTS: base64 of the grade's result
    assert reporter["env"] == {"WORKBOOK_RESULTS": "${{ steps.workbook.outputs.result }}"}
    assert reporter["if"] == "always()"


def released_with_solutions(sample: Path, tmp_path: Path) -> Path:
    """A student's checkout: the student edition, each exercise solved."""
    release.record_verified(sample)
    edition = tmp_path / "student"
    release.write(catalog_module.load(sample), edition)
    for solution in (sample / "solutions/01_basics").glob("*.py"):
        shutil.copy(solution, edition / "exercises/01_basics" / solution.name)
    return edition


@pytest.fixture
def readable():
    """A folder other accounts can read: run as root, run_autograder grades as nobody
    (pytest's own temporary folders are the owner's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="workbook-autograder-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def autograder_root(sample: Path, tmp_path: Path, submission: Path) -> Path:
    """What Gradescope sets up: /autograder/source (the zip) and /autograder/submission."""
    root = tmp_path / "autograder-root"
    with zipfile.ZipFile(
        bundle(sample, tmp_path, "--platform", "gradescope") / "gradescope.zip"
    ) as zipped:
        zipped.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)  # extractall drops the modes Gradescope keeps
    shutil.copytree(submission, root / "submission")
    return root


def run_autograder(
    root: Path, python: str = sys.executable, run_as: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``run_as``: WORKBOOK_RUN_AS ("" grades as this account); unset, the script's default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBOOK")}
    env["WORKBOOK_PYTHON"] = python
    if run_as is not None:
        env["WORKBOOK_RUN_AS"] = run_as
    return subprocess.run(
        [str(root / "source" / "run_autograder"), str(root)],
        cwd=root.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_run_autograder_gives_the_reference_full_marks(
    sample, tmp_path, readable, why_nobody_cannot_grade
):
    edition = released_with_solutions(sample, tmp_path)
    root = autograder_root(sample, readable, edition)
    assert (root / "source" / release.MANIFEST).is_file()  # the instructor's, not the student's
    # as root, the script grades as nobody: where nobody cannot run this install, as root
    done = run_autograder(root, run_as="" if why_nobody_cannot_grade else None)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 15
    assert sum(test["max_score"] for test in results["tests"]) == pytest.approx(15)
    assert sum(test["score"] for test in results["tests"]) == pytest.approx(15)
    assert {test["status"] for test in results["tests"]} == {"passed"}
    assert results["output"] == ""  # no locked file differs


def test_run_autograder_always_leaves_a_results_file(sample, tmp_path):
    root = autograder_root(sample, tmp_path, sample)
    done = run_autograder(root, python="/bin/false")
    assert done.returncode == 0
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0
    assert "could not grade this submission" in results["output"]


def test_without_a_release_manifest_the_bundle_warns(sample, tmp_path):
    destination = tmp_path / "autograder"
    result = run(sample, "autograder", str(destination), "--platform", "gradescope")
    assert result.exit_code == 0
    assert "no release manifest was found" in words(result.output)
    assert not (destination / "gradescope" / release.MANIFEST).exists()


def test_the_bundle_is_never_written_where_it_could_be_committed(sample, tmp_path):
    inside = run(sample, "autograder", str(sample / "dist"))
    assert inside.exit_code == 2
    assert "is inside the workbook" in words(inside.output)
    assert not (sample / "dist").exists()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    assert run(sample, "autograder", str(taken)).exit_code == 2
    unknown = run(sample, "autograder", str(tmp_path / "new"), "--platform", "moodle")
    assert unknown.exit_code == 2
    assert "--platform must be one of" in words(unknown.output)


def test_a_student_edition_cannot_write_one(sample, tmp_path):
    release.record_verified(sample)
    edition = tmp_path / "student"
    release.write(catalog_module.load(sample), edition)
    result = run(edition, "autograder", str(tmp_path / "bundle"))
    assert result.exit_code == 2
    assert not (tmp_path / "bundle").exists()


def test_the_kept_manifest_goes_with_the_grader_and_nothing_else_of_workbook(sample, tmp_path):
    release.record_verified(sample)
    release.write(catalog_module.load(sample), tmp_path / "student")
    (sample / ".workbook" / "state.json").write_text("{}")  # the instructor's own progress
    destination = bundle(sample, tmp_path)
    kept = (sample / release.KEPT_MANIFEST).read_text()
    for grader in ("gradescope", "github-classroom/grader"):
        assert (destination / grader / release.MANIFEST).read_text() == kept
        assert not [f for f in files_in(destination / grader) if f.startswith(".workbook")]
    workflow = (destination / WORKFLOW).read_text()
    assert f"--manifest grader/{release.MANIFEST}" in workflow
