"""`workbook grade`: submissions graded with the instructor's suites, and every report format."""

import base64
import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbook import catalog as catalog_module
from workbook import classroom, gradebook, release, submissions, tamper
from workbook.cli import app

PROJECT = Path(__file__).parents[2]
GREETING = "exercises/01_basics/01_greeting.py"
SQUARE = "exercises/01_basics/02_square.py"

SQUARE_PARTLY = """from fastapi import FastAPI

app = FastAPI()


@app.get("/square/{n}")
async def square(n: int) -> dict[str, int]:
    return {"result": n * n if n > 0 else 0}
"""
GREETING_WRONG = 'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/")\nasync def greet() -> dict[str, str]:\n    return {"hello": "there"}\n'  # noqa: E501
GREETING_HANGS = "import time\n\ntime.sleep(3600)\n"
SQUARE_EXITS = """import os

from fastapi import FastAPI

app = FastAPI()


@app.get("/square/{n}")
async def square(n: int) -> dict[str, int]:
    os._exit(0)
"""
REWRITES_OUTCOMES = """import _pytest.reports
from fastapi import FastAPI

_pytest.reports.TestReport.passed = property(lambda self: True)

app = FastAPI()


@app.get("/")
async def greet() -> dict[str, str]:
    return {"hello": "world"}
"""
PASSING_TEST = "def test_greets():\n    assert True\n"
FORCING_CONFTEST = "import pytest\n\n\n@pytest.hookimpl\ndef pytest_runtest_makereport(item, call):\n    call.excinfo = None\n"  # noqa: E501


def run(root: Path, *args: str):
    return CliRunner().invoke(app, ["--root", str(root), *args])


def released(root: Path, destination: Path) -> Path:
    """The student edition of ``root`` (and the manifest the instructor keeps)."""
    release.write(catalog_module.load(root), destination, require_verified=False)
    return destination


def submit(edition: Path, where: Path, name: str, files: dict[str, str] | None = None) -> Path:
    """A student's checkout: the edition with ``files`` written over it."""
    folder = where / name
    shutil.copytree(edition, folder)
    for relative, text in (files or {}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    return folder


def solved(sample: Path, name: str) -> str:
    return (sample / "solutions/01_basics" / name).read_text()


def graded(result) -> dict:
    data = json.loads(result.stdout)
    return {s["name"]: s for s in data["submissions"]}


def exercises(submission: dict) -> dict:
    return {e["id"].split("/")[1]: e for e in submission["exercises"]}


# -- scores ------------------------------------------------------------------------------


def test_solutions_get_full_marks_stubs_zero_and_a_mix_the_exact_partial_score(sample, tmp_path):
    edition = released(sample, tmp_path / "edition")
    solutions = {GREETING: solved(sample, "01_greeting.py"), SQUARE: solved(sample, "02_square.py")}
    alice = submit(edition, tmp_path, "alice", solutions)
    bob = submit(edition, tmp_path, "bob")
    stub = (bob / GREETING).read_text()
    (bob / GREETING).write_text("# I looked at it\n" + stub.replace("\n\n\n", "\n\n\n\n"))
    carol = submit(
        edition, tmp_path, "carol", {GREETING: solutions[GREETING], SQUARE: SQUARE_PARTLY}
    )
    result = run(sample, "grade", str(alice), str(bob), str(carol), "--json", "--jobs", "2")
    assert result.exit_code == 0, result.output
    grades = graded(result)
    assert (grades["alice"]["score"], grades["alice"]["max_score"]) == (15, 15)
    assert all(e["status"] == "passed" for e in grades["alice"]["exercises"])
    assert grades["bob"]["score"] == 0
    assert {e["status"] for e in grades["bob"]["exercises"]} == {"not_attempted"}
    carol_exercises = exercises(grades["carol"])
    assert carol_exercises["02_square"]["score"] == round(5 * 2 / 3, 2)
    assert [t["status"] for t in carol_exercises["02_square"]["tests"]] == [
        "passed",
        "passed",
        "failed",
    ]
    assert grades["carol"]["score"] == round(10 + 5 * 2 / 3, 2)
    assert not any(s["tampered"] for s in grades.values())


def test_hostile_submissions_are_graded_and_flagged_without_stopping_the_batch(sample, tmp_path):
    catalog = sample / "curriculum.toml"
    catalog.write_text(
        catalog.read_text().replace('section = "greeting"', 'section = "greeting"\ntimeout = 10')
    )
    edition = released(sample, tmp_path / "edition")
    solutions = {GREETING: solved(sample, "01_greeting.py"), SQUARE: solved(sample, "02_square.py")}
    batch = [
        submit(edition, tmp_path, "hangs", {GREETING: GREETING_HANGS}),
        submit(edition, tmp_path, "exits", {SQUARE: SQUARE_EXITS}),
        submit(
            edition,
            tmp_path,
            "tampers",
            {
                GREETING: GREETING_WRONG,
                "tests/01_basics/test_01_greeting.py": PASSING_TEST,
                "conftest.py": FORCING_CONFTEST,
                "workbook/testing.py": "def expect_json(*args, **kwargs):\n    pass\n",
                "lessons/01-basics.md": "# Nothing to see\n",
            },
        ),
        submit(edition, tmp_path, "rewrites", {GREETING: REWRITES_OUTCOMES}),
        submit(edition, tmp_path, "honest", solutions),
    ]
    result = run(sample, "grade", *map(str, batch), "--json", "--jobs", "2")
    assert result.exit_code == 1, result.output  # graded, with findings for the instructor
    grades = graded(result)
    assert list(grades) == ["hangs", "exits", "tampers", "rewrites", "honest"]
    assert grades["honest"]["score"] == 15
    hangs = exercises(grades["hangs"])["01_greeting"]
    assert hangs["status"] in ("timeout", "crashed")
    assert hangs["score"] == 0
    exits = exercises(grades["exits"])["02_square"]
    assert exits["status"] == "crashed"
    assert exits["score"] == 0
    assert [f["reason"] for f in exits["flags"]] == ["ends the grading process at once (os._exit)"]
    tampers = grades["tampers"]
    assert {(f["path"], f["status"]) for f in tampers["tampered"]} == {
        ("tests/01_basics/test_01_greeting.py", "modified"),
        ("lessons/01-basics.md", "modified"),
        ("workbook/testing.py", "added"),
        ("conftest.py", "added"),
    }
    greeting = exercises(tampers)["01_greeting"]
    assert [t["status"] for t in greeting["tests"]] == ["failed", "passed"]
    assert greeting["score"] == 5, "the instructor's suite graded it, not the submitted one"
    rewrites = exercises(grades["rewrites"])["01_greeting"]
    assert rewrites["flagged"]
    assert rewrites["score"] == 0
    assert rewrites["flags"][0] == {
        "path": GREETING,
        "line": 1,
        "reason": "imports _pytest.reports",
    }
    assert rewrites["score_if_trusted"] is not None
    assert json.loads(result.stdout)["problems"] == []


def test_a_flagged_exercise_is_scored_with_trust(sample, tmp_path):
    edition = released(sample, tmp_path / "edition")
    reaches = "import _pytest.reports  # flagged, but it changes nothing\n"
    flagged = submit(
        edition, tmp_path, "flagged", {GREETING: reaches + solved(sample, "01_greeting.py")}
    )
    result = run(sample, "grade", str(flagged), "--json", "--trust")
    greeting = exercises(graded(result)["flagged"])["01_greeting"]
    assert greeting["flagged"]
    assert greeting["score"] == 10


def test_rewritten_outcomes_score_nothing_even_with_trust(sample, tmp_path):
    edition = released(sample, tmp_path / "edition")
    rewrites = submit(edition, tmp_path, "rewrites", {GREETING: REWRITES_OUTCOMES})
    result = run(sample, "grade", str(rewrites), "--json", "--trust")
    greeting = exercises(graded(result)["rewrites"])["01_greeting"]
    assert greeting["flagged"]
    assert greeting["status"] == "crashed"
    assert greeting["score"] == 0
    assert "_pytest.reports.TestReport.passed" in greeting["message"]


def test_a_submission_that_writes_to_the_instructors_suites_voids_the_batch(sample, tmp_path):
    edition = released(sample, tmp_path / "edition")
    writes = 'open("tests/01_basics/test_02_square.py", "a").write("# was here")\n'
    vandal = submit(edition, tmp_path, "vandal", {SQUARE: writes + SQUARE_PARTLY})
    result = run(sample, "grade", str(vandal), "--json")
    assert result.exit_code == 3
    assert "these grades cannot be trusted" in json.loads(result.stdout)["problems"][0]


AS_NOBODY = """import os, pwd

if os.geteuid() != pwd.getpwnam("nobody").pw_uid:
    raise RuntimeError("graded as the instructor's own account")
"""


@pytest.fixture
def readable_sample(sample):
    """The sample workbook where another account can read it (pytest's own temporary
    folders are the owner's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="workbook-run-as-"))
    folder.chmod(0o755)
    shutil.copytree(sample, folder / "workbook")
    yield folder / "workbook"
    shutil.rmtree(folder)


def test_run_as_keeps_learner_code_out_of_the_instructors_files(nobody, readable_sample, tmp_path):
    sample = readable_sample
    edition = released(sample, tmp_path / "edition")
    writes = 'open("tests/01_basics/test_02_square.py", "a").write("# was here")\n'
    files = {GREETING: AS_NOBODY + solved(sample, "01_greeting.py"), SQUARE: writes + SQUARE_PARTLY}
    vandal = submit(edition, tmp_path, "vandal", files)
    suite = sample / "tests/01_basics/test_02_square.py"
    before = suite.read_text()
    result = run(sample, "grade", str(vandal), "--json", "--run-as", nobody)
    report = json.loads(result.stdout)
    assert report["problems"] == [], report
    found = exercises(report["submissions"][0])
    assert found["01_greeting"]["score"] == 10, found["01_greeting"]  # it ran, and as nobody
    square = found["02_square"]
    assert (square["status"], square["score"]) == ("error", 0)
    assert "PermissionError" in square["tests"][0]["message"]
    assert suite.read_text() == before


def test_run_as_an_account_that_does_not_exist_is_refused(sample, tmp_path):
    edition = released(sample, tmp_path / "edition")
    student = submit(edition, tmp_path, "student")
    result = run(sample, "grade", str(student), "--run-as", "no-such-account-here")
    assert result.exit_code == 2
    expected = "--run-as no-such-account-here: there is no such account on this machine"
    assert "".join(expected.split()) in "".join(result.output.split())


# -- submissions that cannot be graded as they are -----------------------------------------


def zipped(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


def bare_repository(folder: Path, destination: Path) -> Path:
    env = {**os.environ, "GIT_AUTHOR_NAME": "s", "GIT_AUTHOR_EMAIL": "s@example.com"}
    env |= {"GIT_COMMITTER_NAME": "s", "GIT_COMMITTER_EMAIL": "s@example.com"}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "mine"]):
        subprocess.run(["git", *command], cwd=folder, env=env, check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(folder), str(destination)], check=True)
    return destination


def test_folders_zips_and_git_repositories_each_get_a_report(sample, tmp_path):
    edition = released(sample, tmp_path / "edition")
    folder = submit(edition, tmp_path, "dana")
    archive = zipped(submit(edition, tmp_path, "erin-src"), tmp_path / "erin.zip", "erin-main/")
    repository = bare_repository(submit(edition, tmp_path, "finn-src"), tmp_path / "finn.git")
    linked = submit(edition, tmp_path, "gus")
    (linked / GREETING).unlink()
    (linked / GREETING).symlink_to(sample / "solutions/01_basics/01_greeting.py")
    climbs = submit(edition, tmp_path, "hal")
    shutil.rmtree(climbs / "exercises/01_basics")
    (climbs / "exercises/01_basics").symlink_to(sample / "solutions/01_basics")
    sources = [folder, archive, repository, linked, climbs, tmp_path / "nobody"]
    out = tmp_path / "reports"
    result = run(sample, "grade", *map(str, sources), "--format", "gradescope", "-o", str(out))
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "dana.json",
        "erin.json",
        "finn.json",
        "gus.json",
        "hal.json",
        "nobody.json",
    ]
    for name in ("dana", "erin", "finn"):
        report = json.loads((out / f"{name}.json").read_text())
        assert report["score"] == 0
        assert len(report["tests"]) == 2
    gus = json.loads((out / "gus.json").read_text())
    assert gus["score"] == 0
    assert "symbolic link" in gus["tests"][-1]["output"]
    hal = json.loads((out / "hal.json").read_text())
    assert hal["score"] == 0
    assert hal["tests"][-1]["output"].count("symbolic link") == 2
    nobody = json.loads((out / "nobody.json").read_text())
    assert "no such folder" in nobody["output"]
    assert "gus" in result.stderr
    assert "flagged" in result.stderr


@pytest.mark.parametrize(
    ("member", "says"),
    [
        ("/etc/evil.py", "an absolute path"),
        ("../evil.py", "climbs out of the archive"),
        ("exercises/../../evil.py", "climbs out of the archive"),
    ],
)
def test_a_zip_with_unsafe_paths_is_refused_before_anything_is_written(tmp_path, member, says):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("exercises/ok.py", "x = 1\n")
        bundle.writestr(member, "x = 2\n")
    with pytest.raises(submissions.SubmissionError, match=says):
        submissions.extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_zip_with_a_link_or_too_large_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        info = zipfile.ZipInfo("exercises/01_basics/01_greeting.py")
        info.external_attr = (0o120777 << 16) | 0
        bundle.writestr(info, "/work/solutions/01_basics/01_greeting.py")
    with pytest.raises(submissions.SubmissionError, match="a symbolic link"):
        submissions.extract_zip(archive, tmp_path / "out")
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("exercises/big.py", "#" * 10_000)
    with pytest.raises(submissions.SubmissionError, match="MB unpacked"):
        submissions.extract_zip(big, tmp_path / "out", limit=1_000)


@pytest.mark.parametrize(
    ("source", "kind", "name"),
    [
        ("https://github.com/class/alice-hw.git", "git", "alice-hw"),
        ("git@github.com:class/bob-hw.git", "git", "bob-hw"),
        ("/srv/repos/carol.git/", "git", "carol"),
        ("uploads/dana.zip", "zip", "dana"),
        ("checkouts/erin", "folder", "erin"),
    ],
)
def test_a_submission_is_named_for_its_folder_zip_or_repository(source, kind, name):
    assert submissions.kind_of(source) == kind
    assert submissions.name_of(source) == name


# -- the manifest and where grading happens ---------------------------------------------------


def test_without_a_manifest_the_tamper_check_is_skipped_with_a_warning(sample, tmp_path):
    edition = released(sample, tmp_path / "edition")
    (sample / release.KEPT_MANIFEST).unlink()
    hacked = submit(edition, tmp_path, "hacked", {"workbook/testing.py": "broken = True\n"})
    result = run(sample, "grade", str(hacked), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "locked files were not compared" in " ".join(result.stderr.split())
    assert next(csv.DictReader(io.StringIO(result.stdout)))["tampered"] == ""


def test_the_manifest_option_wins_over_the_kept_one(sample, tmp_path):
    edition = released(sample, tmp_path / "edition")
    student = submit(edition, tmp_path, "ivy")
    rows = (sample / release.KEPT_MANIFEST).read_text().splitlines()
    manifest = tmp_path / "LOCKED.sha256"
    manifest.write_text(
        "\n".join(f"{'0' * 64}  {r[66:]}" if r.endswith("curriculum.toml") else r for r in rows)
    )
    result = run(sample, "grade", str(student), "--manifest", str(manifest), "--json")
    assert graded(result)["ivy"]["tampered"] == [{"path": "curriculum.toml", "status": "modified"}]


def test_grade_is_for_instructors_only(sample, tmp_path):
    edition = released(sample, tmp_path / "edition")
    result = run(edition, "grade", str(edition))
    assert result.exit_code == 2
    assert "for the workbook's authors" in " ".join(result.output.split())


def test_per_submission_formats_need_a_folder_for_several(sample, tmp_path):
    result = run(sample, "grade", str(tmp_path), str(tmp_path), "--format", "github-classroom")
    assert result.exit_code == 2
    assert "need --output FOLDER" in result.stderr


def test_the_catalog_checks_the_feedback_policy(sample):
    catalog = sample / "curriculum.toml"
    text = catalog.read_text()
    catalog.write_text(text.replace("points = 5", 'points = 5\nfeedback = "full"'))
    square = catalog_module.load(sample).exercises[1]
    assert square.feedback == "full"
    assert catalog_module.load(sample).exercises[0].feedback == "requirements"
    catalog.write_text(text.replace("points = 5", 'points = 5\nfeedback = "everything"'))
    with pytest.raises(catalog_module.CatalogError, match="`feedback` must be one of"):
        catalog_module.load(sample)


# -- the static scan ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("import _pytest.runner", "imports _pytest.runner"),
        ("from _pytest import reports", "imports _pytest"),
        ("import pytest", "imports pytest"),
        ("from workbook import reporting", "imports workbook"),
        ("import conftest", "imports conftest"),
        ("import sys\nsys.modules['x'] = None", "changes sys.modules"),
        ("import sys\nsys.modules.update({})", "changes sys.modules"),
        ("from sys import modules\ndel modules['x']", "changes sys.modules"),
        ("import builtins\nbuiltins.print = len", "patches builtins.print"),
        ("print(__builtins__)", "reaches for __builtins__"),
        ("import os as o\no._exit(0)", "(os._exit)"),
        ("from os import _exit\n_exit(0)", "(os._exit)"),
        ("import atexit", "imports atexit"),
        ("import os\nos.write(3, b'{}')", "(os.write)"),
        ("import sys\nsys._getframe(1).f_back", "(sys._getframe)"),
        ("__import__('_pytest')", "imports _pytest"),
        ("import importlib\nimportlib.import_module(name)", "computed at run time"),
    ],
)
def test_the_scan_flags_code_that_reaches_for_the_grader(code, reason):
    flags = tamper.scan("exercise.py", code, set())
    assert any(reason in flag.reason for flag in flags), flags


def test_the_scan_allows_what_the_stub_imports():
    assert tamper.scan("x.py", "import pytest\nfrom workbook.testing import x", {"pytest"}) == [
        tamper.Flag("x.py", 2, "imports workbook.testing")
    ]


def test_no_reference_solution_of_the_curriculum_is_flagged():
    catalog = catalog_module.load(PROJECT)
    for exercise in catalog.exercises:
        stub, solution = exercise.stub(PROJECT), exercise.solution(PROJECT)
        files = [*submissions.code_files(stub), *submissions.code_files(solution)]
        allowed = tamper.imported_modules([p.read_text() for p in files])
        for path in submissions.code_files(solution):
            assert tamper.scan(str(path), path.read_text(), allowed) == [], exercise.id


# -- the formats, each against its specification ---------------------------------------------


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> classroom.Batch:
    """One graded batch: a partial answer, and a flagged answer with a locked file edited."""
    where = tmp_path_factory.mktemp("formats")
    sample = where / "workbook"
    shutil.copytree(Path(__file__).with_name("sample_workbook"), sample)
    edition = released(sample, where / "edition")
    greeting = solved(sample, "01_greeting.py")
    partial = submit(edition, where, "carol", {GREETING: greeting, SQUARE: SQUARE_PARTLY})
    flagged = submit(
        edition,
        where,
        "mallory",
        {GREETING: REWRITES_OUTCOMES, "tests/01_basics/test_02_square.py": PASSING_TEST},
    )
    catalog = catalog_module.load(sample)
    manifest = classroom.manifest_for(sample, None)
    return classroom.grade(catalog, [str(partial), str(flagged)], manifest=manifest, workers=2)


GRADESCOPE_TOP = {"score", "execution_time", "output", "visibility", "tests"}
GRADESCOPE_TEST = {"name", "score", "max_score", "status", "output", "visibility"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def test_gradescope_results_json_has_the_specs_fields(batch):
    carol, mallory = (gradebook.gradescope(s) for s in batch.submissions)
    assert set(carol) <= GRADESCOPE_TOP | {"output_format", "stdout_visibility", "extra_data"}
    assert carol["score"] == round(10 + 5 * 2 / 3, 2)
    for test in carol["tests"]:
        assert set(test) == GRADESCOPE_TEST
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in VISIBILITY
        assert 0 <= test["score"] <= test["max_score"]
    assert sum(t["score"] for t in carol["tests"]) == pytest.approx(carol["score"], abs=0.01)
    assert sum(t["max_score"] for t in carol["tests"]) == pytest.approx(15)
    notes = mallory["tests"][-1]
    assert notes["visibility"] == "hidden"
    assert "score" not in notes
    assert "tests/01_basics/test_02_square.py: modified" in notes["output"]
    assert "imports _pytest.reports" in notes["output"]
    assert "locked file(s) differ" in mallory["output"]


def student_view(batch: classroom.Batch, feedback: str) -> list[gradebook.StudentTest]:
    square = batch.submissions[0].exercises[1]
    exercise = replace(square.exercise, feedback=feedback)
    return gradebook.student_tests(replace(square, exercise=exercise))


def test_the_feedback_policy_decides_what_students_see(batch):
    (points,) = student_view(batch, "points")
    assert (points.score, points.max_score, points.output) == (round(5 * 2 / 3, 2), 5, "")
    requirements = student_view(batch, "requirements")
    assert [t.passed for t in requirements] == [True, True, False]
    assert "answers like the reference" in requirements[2].name
    assert all(t.output == "" for t in requirements)
    full = student_view(batch, "full")
    assert "expected" in full[2].output
    flagged = batch.submissions[1].exercises[0]
    (held,) = gradebook.student_tests(flagged)
    assert (held.score, held.passed) == (0, False)
    assert "review" in held.output


GITHUB_TEST = {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}


def test_github_classroom_result_has_the_runners_fields(batch, tmp_path, monkeypatch):
    result = gradebook.github_classroom(batch.submissions[0])
    assert set(result) == {"version", "status", "max_score", "tests"}
    assert (result["version"], result["status"], result["max_score"]) == (1, "fail", 15)
    for test in result["tests"]:
        assert set(test) == GITHUB_TEST
        assert test["status"] in ("pass", "fail", "error")
        assert test["filename"].startswith("exercises/01_basics/")
    outputs = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    one = replace(batch, submissions=batch.submissions[:1])
    gradebook.write(one, "github-classroom", tmp_path / "result.json")
    key, _, value = outputs.read_text().strip().partition("=")
    assert key == "result"
    assert json.loads(base64.b64decode(value)) == result


def test_junit_xml_is_shaped_as_pytest_writes_it(batch):
    root = ET.fromstring(gradebook.to_junit(batch))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["carol", "mallory"]
    for suite in suites:
        assert set(suite.attrib) == {
            *("name", "errors", "failures", "skipped", "tests"),
            *("time", "timestamp", "hostname"),
        }
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        for tag, count in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(count)) == sum(len(case.findall(tag)) for case in cases)
        for case in cases:
            assert set(case.attrib) == {"classname", "name", "time"}
            float(case.get("time"))
    carol = suites[0].findall("testcase")
    failing = [c for c in carol if c.find("failure") is not None]
    assert [c.get("name") for c in failing] == ["test_matches_the_reference"]
    assert failing[0].get("classname") == "carol.01_basics.02_square"
    assert "answers like the reference" in failing[0].find("failure").get("message")
    names = {c.get("name") for c in suites[1].findall("testcase")}
    assert {"locked_files", "integrity"} <= names


def test_the_gradebook_csv_has_a_row_per_submission_and_a_column_per_exercise(batch):
    rows = list(csv.DictReader(io.StringIO(gradebook.to_csv(batch))))
    assert list(rows[0]) == [
        "submission",
        "score",
        "max_score",
        "01_basics/01_greeting",
        "01_basics/02_square",
        "flagged",
        "tampered",
        "problem",
    ]
    carol, mallory = rows
    assert (carol["score"], carol["01_basics/02_square"]) == (str(round(10 + 10 / 3, 2)), "3.33")
    assert mallory["flagged"] == "01_basics/01_greeting"
    assert mallory["tampered"] == "tests/01_basics/test_02_square.py (modified)"


def test_the_workbook_json_keeps_everything_for_the_instructor(batch):
    data = json.loads(gradebook.to_json(batch))
    assert data["schema_version"] == 1
    assert data["max_score"] == 15
    mallory = data["submissions"][1]
    greeting = mallory["exercises"][0]
    assert greeting["flagged"]
    assert greeting["score"] == 0
    assert greeting["tests"], "the instructor sees every requirement of a flagged exercise"
