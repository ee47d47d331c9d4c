"""`workbook release`: the student edition, its gates, and the commands that work in it."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbook import catalog as catalog_module
from workbook import release
from workbook.catalog import Exercise
from workbook.cli import app

PROJECT = Path(__file__).parents[2]
SQUARE = "01_basics/02_square"

# three lines only the sample's solution holds, each long enough to count
SECRET = '''
def checked_square(n: int) -> int:
    """The square of n, from a helper the stub never shows to the student."""
    squared_value_of_the_number = n * n
    return squared_value_of_the_number
'''


def run(root: Path, *args: str):
    return CliRunner().invoke(app, ["--root", str(root), *args])


def words(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


def exercise_with(public: tuple[str, ...] | None) -> Exercise:
    return Exercise(
        id="01_basics/09_sample",
        module="01_basics",
        name="09_sample",
        title="Sample",
        section="sample",
        hints=("one", "two"),
        points=10,
        test_timeout=10,
        run_timeout=60,
        lesson="lessons/01-basics.md",
        notebook="notebooks/01_basics.ipynb",
        public=public,
    )


SUITE = '''"""Hidden suite: its docstring stays behind."""

import pytest

from workbook.testing import expect_json

LIMIT = 100
SECRET_NUMBERS = [7, 8]


@pytest.fixture(autouse=True)
def fresh() -> None:
    """runs before every check"""


@pytest.fixture
def numbers() -> list[int]:
    return [1, 2, LIMIT]


def helper_for_the_second(value: int) -> int:
    return value * 2


async def test_first(exercise, numbers):
    """the first requirement"""
    expect_json(numbers, numbers)


@pytest.mark.parametrize("n", SECRET_NUMBERS)
async def test_second(exercise, n):
    """the second requirement"""
    assert helper_for_the_second(n)


async def test_third(exercise, reference):
    """answers like the reference"""
    assert exercise is not reference


def named_like_the_fixture(reference: str) -> str:
    return reference


async def test_fourth(exercise):
    """a helper's parameter may be called reference"""
    assert named_like_the_fixture("x")
'''


def test_a_public_slice_keeps_the_first_check_and_only_what_it_uses():
    text = release.public_slice(SUITE, exercise_with(None))
    compile(text, "slice", "exec")
    assert "def test_first" in text
    assert "def fresh" in text
    assert "def numbers" in text
    assert "LIMIT = 100" in text  # used by a fixture the check uses
    for hidden in ("test_second", "test_third", "SECRET_NUMBERS", "helper_for_the_second"):
        assert hidden not in text
    assert "its docstring stays behind" not in text
    assert "Public checks of 01_basics/09_sample" in text


def test_a_public_slice_keeps_the_checks_the_catalog_names():
    text = release.public_slice(SUITE, exercise_with(("test_second",)))
    assert "def test_second" in text
    assert "SECRET_NUMBERS = [7, 8]" in text
    assert "helper_for_the_second" in text
    assert "def test_first" not in text
    assert "def numbers" not in text
    assert "def fresh" in text


def test_a_parameter_named_reference_is_not_the_fixture():
    text = release.public_slice(SUITE, exercise_with(("test_fourth",)))
    assert "def named_like_the_fixture" in text


def test_no_public_checks_leaves_one_that_the_file_loads():
    text = release.public_slice(SUITE, exercise_with(()))
    namespace: dict[str, object] = {}
    exec(compile(text, "slice", "exec"), namespace)
    assert [name for name in namespace if name.startswith("test_")] == ["test_the_file_loads"]
    assert "def test_first" not in text


@pytest.mark.parametrize(
    ("public", "says"),
    [(("test_third",), "use the reference solution"), (("test_nothing",), "not in its suite")],
)
def test_a_public_check_that_cannot_ship_is_refused(public, says):
    with pytest.raises(release.ReleaseError) as refused:
        release.public_slice(SUITE, exercise_with(public))
    assert says in refused.value.problems[0]


def released(sample: Path, tmp_path: Path) -> Path:
    release.record_verified(sample)
    destination = tmp_path / "student"
    result = run(sample, "release", str(destination))
    assert result.exit_code == 0, result.output
    assert "Wrote the student edition" in words(result.output)
    return destination


def test_the_edition_holds_no_solution_no_hidden_suite_no_variant(sample, tmp_path):
    edition = released(sample, tmp_path)
    files = {p.relative_to(edition).as_posix() for p in edition.rglob("*") if p.is_file()}
    assert not any(f.startswith("solutions/") or "/wrong/" in f for f in files)
    assert {"exercises/01_basics/01_greeting.py", "lessons/01-basics.md", "README.md"} <= files
    assert "tests/01_basics/test_02_square.py" in files
    public = (edition / "tests/01_basics/test_02_square.py").read_text()
    assert "def test_square" in public
    assert "test_matches_the_reference" not in public
    loaded = catalog_module.load(edition)
    assert loaded.student_edition
    assert len(loaded.exercises) == 2


def test_the_manifest_locks_every_file_but_the_students_own(sample, tmp_path):
    edition = released(sample, tmp_path)
    rows = dict(
        reversed(line.split("  ", 1))
        for line in (edition / release.MANIFEST).read_text().splitlines()
    )
    expected = {
        p.relative_to(edition).as_posix()
        for p in edition.rglob("*")
        if p.is_file() and p.name != release.MANIFEST
    }
    locked = {f for f in expected if not f.startswith(("exercises/", "notebooks/"))}
    assert set(rows) == locked
    assert "curriculum.toml" in rows
    assert "tests/01_basics/test_01_greeting.py" in rows
    for name, digest in rows.items():
        assert hashlib.sha256((edition / name).read_bytes()).hexdigest() == digest


def test_release_keeps_the_instructors_copy_of_the_manifest(sample, tmp_path):
    edition = released(sample, tmp_path)
    kept = sample / release.KEPT_MANIFEST
    assert kept.read_bytes() == (edition / release.MANIFEST).read_bytes()


def test_release_waits_for_a_green_verify_of_the_workbook_as_it_is(sample, tmp_path):
    result = run(sample, "release", str(tmp_path / "student"))
    assert result.exit_code == 1
    assert "run `workbook verify` (every exercise) first" in words(result.output)
    release.record_verified(sample)
    (sample / "solutions/01_basics/02_square.py").write_text("changed = True\n")
    assert not release.verified(sample)
    assert not (tmp_path / "student").exists()


def test_release_wants_a_new_folder_outside_the_workbook(sample, tmp_path):
    release.record_verified(sample)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = run(sample, "release", str(tmp_path / "full"))
    assert result.exit_code == 1
    assert "exists and is not empty" in words(result.output)
    inside = run(sample, "release", str(sample / "student"))
    assert "is inside the workbook" in words(inside.output)


def test_a_lesson_quoting_a_solution_is_a_leak(sample, tmp_path):
    solution = sample / "solutions/01_basics/02_square.py"
    solution.write_text(solution.read_text() + SECRET)
    lesson = sample / "lessons/01-basics.md"
    lesson.write_text(lesson.read_text() + "\n```python" + SECRET + "```\n")
    release.record_verified(sample)
    result = run(sample, "release", str(tmp_path / "student"))
    assert result.exit_code == 1
    out = words(result.output)
    assert "lessons/01-basics.md" in out
    assert "repeats solutions/01_basics/02_square.py" in out
    assert not (tmp_path / "student").exists()


def test_a_notebook_quoting_a_solution_is_a_leak_too(sample, tmp_path):
    solution = sample / "solutions/01_basics/02_square.py"
    solution.write_text(solution.read_text() + SECRET)
    notebook = sample / "notebooks/01_basics.ipynb"
    data = json.loads(notebook.read_text())
    data["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "source": SECRET.splitlines(True),
            "outputs": [],
            "execution_count": None,
        }
    )
    notebook.write_text(json.dumps(data))
    catalog = catalog_module.load(sample)
    with pytest.raises(release.ReleaseError) as refused:
        release.write(catalog, tmp_path / "student", require_verified=False)
    assert "notebooks/01_basics.ipynb:cell" in refused.value.problems[0]


def test_lines_the_stub_shows_are_not_a_leak(sample, tmp_path):
    stub = sample / "exercises/01_basics/02_square.py"
    solution = sample / "solutions/01_basics/02_square.py"
    stub.write_text(stub.read_text() + SECRET)
    solution.write_text(solution.read_text() + SECRET)
    lesson = sample / "lessons/01-basics.md"
    lesson.write_text(lesson.read_text() + "\n```python" + SECRET + "```\n")
    released(sample, tmp_path)


def test_the_students_commands_work_in_the_edition(sample, tmp_path):
    edition = released(sample, tmp_path)
    listed = run(edition, "list", "--json")
    assert listed.exit_code == 0
    assert [e["id"] for e in json.loads(listed.output)][-1] == SQUARE
    stub = run(edition, "check", SQUARE)
    assert stub.exit_code == 1
    assert "public checks" in words(stub.output)
    shutil.copy(sample / "solutions/01_basics/02_square.py", edition / "exercises/01_basics")
    solved = run(edition, "check", SQUARE, "--json")
    assert solved.exit_code == 0, solved.output
    result = json.loads(solved.output)
    assert result["status"] == "passed"
    assert result["public_checks_only"] is True
    assert [t["name"] for t in result["tests"]] == ["test_square[2]", "test_square[3]"]
    text = run(edition, "check", SQUARE)
    assert "The public checks pass" in words(text.output)
    assert "workbook solution" not in words(text.output)
    assert run(edition, "hint", SQUARE).exit_code == 0
    peek = run(edition, "solution", SQUARE)
    assert peek.exit_code == 1
    assert "come from your instructor" in words(peek.output)
    for command in ("verify", "release"):
        refused = run(edition, command, *(["elsewhere"] if command == "release" else []))
        assert refused.exit_code == 2
        assert "for the workbook's authors" in words(refused.output)


def test_the_real_curriculum_releases_without_a_leak(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "KEPT_MANIFEST", tmp_path / "kept" / release.MANIFEST)
    catalog = catalog_module.load(PROJECT)
    files = release.write(catalog, tmp_path / "student", require_verified=False)
    assert not any(f.startswith("solutions/") for f in files)
    assert len([f for f in files if f.startswith("tests/")]) >= len(catalog.exercises)
