"""The plugin and loader: targets by path, unique module names, requirements from docstrings."""

from pathlib import Path

import pytest

from workbook import catalog, grading, loader, plugin, variants
from workbook.testing import Mismatch, json_diff


def test_suite_maps_to_its_exercise_in_any_tree(sample):
    suite = sample / "tests/01_basics/test_02_square.py"
    assert plugin.exercise_path(suite, sample / "solutions") == (
        sample / "solutions/01_basics/02_square.py"
    )
    package = sample / "exercises/01_basics/02_square"
    package.mkdir()
    assert plugin.exercise_path(suite, sample / "exercises") == package


def test_exercise_and_solution_load_side_by_side_under_unique_names(sample):
    stub = loader.load(sample / "exercises/01_basics/02_square.py")
    solution = loader.load(sample / "solutions/01_basics/02_square.py")
    assert stub is not solution
    assert stub.__name__ != solution.__name__
    assert loader.load(sample / "solutions/01_basics/02_square.py") is solution


def test_a_missing_name_says_which_and_why(sample):
    stub = loader.load(sample / "exercises/01_basics/01_greeting.py")
    with pytest.raises(loader.MissingName, match="defines no `make_app`"):
        stub.make_app  # noqa: B018
    assert not hasattr(stub, "make_app")


def test_a_missing_file_is_a_load_error(tmp_path):
    with pytest.raises(loader.LoadError, match="missing"):
        loader.load(tmp_path / "nowhere.py")


def grade(root: Path, fragment: str, **options) -> grading.CheckResult:
    loaded = catalog.load(root)
    (exercise,) = loaded.find(fragment)
    return grading.check(loaded, exercise, **options)


def test_requirements_come_from_docstrings_with_parameters_filled_in(sample):
    result = grade(sample, "square", target="solutions")
    assert [t["requirement"] for t in result.tests] == [
        "GET /square/2 answers its square",
        "GET /square/3 answers its square",
        "answers like the reference for small numbers",
    ]


def test_reference_is_available_beside_the_target(sample, tmp_path):
    diff = variants.read(sample / "tests/01_basics/wrong/02_square__doubles.diff")
    wrong = tmp_path / "02_square__doubles.py"
    solution = (sample / "solutions/01_basics/02_square.py").read_text()
    wrong.write_text(variants.apply(diff, solution))
    result = grade(sample, "square", target_file=wrong)
    assert result.status == "failed"
    assert result.tests[-1]["message"] == 'expected body {"result": 9}, not {"result": -6}'


def test_mismatch_reads_in_one_voice():
    assert str(Mismatch("status", 201, 200)) == "expected status 201, not 200"
    assert str(Mismatch("header vary", "Accept", None)) == 'expected header vary "Accept", not None'
    assert json_diff({"a": 1, "b": [1]}, {"a": 2, "b": [1]}) == [
        " {",
        '-  "a": 1,',
        '+  "a": 2,',
        '   "b": [',
        "     1",
    ]


CHAIN = '''
import pytest


def test_first(exercise):
    """the value is two"""
    assert exercise.VALUE == 2


@pytest.mark.requires("test_first")
def test_second(exercise):
    """the second step builds on the first"""


@pytest.mark.requires("test_second")
def test_third(exercise):
    """the third step builds on the second"""


def test_apart(exercise):
    """a check outside the chain still runs"""
    assert exercise.VALUE == 2
'''


def test_a_chain_skips_later_steps_naming_the_first_that_failed(sample):
    (sample / "tests/01_basics/test_02_square.py").write_text(CHAIN)
    (sample / "exercises/01_basics/02_square.py").write_text("VALUE = 1\n")
    (sample / "solutions/01_basics/02_square.py").write_text("VALUE = 2\n")
    failing = {t["requirement"]: t for t in grade(sample, "square", target="exercises").tests}
    assert failing["the value is two"]["status"] == "failed"
    assert failing["a check outside the chain still runs"]["status"] == "failed"
    for later in ("the second step builds on the first", "the third step builds on the second"):
        assert failing[later]["status"] == "skipped"
        assert failing[later]["message"] == "not checked: “the value is two” failed first"
    passing = grade(sample, "square", target="solutions").tests
    assert [t["status"] for t in passing] == ["passed"] * 4


ORDERED = '''
def test_a(exercise):
    """a: the value is two"""
    assert exercise.VALUE == 2


def test_b(exercise):
    """b: the value is positive"""
    assert exercise.VALUE > 0


def test_c(exercise):
    """c: the value is even"""
    assert exercise.VALUE % 2 == 0
'''


def test_run_first_moves_the_named_checks_to_the_front_in_the_order_given(sample):
    (sample / "tests/01_basics/test_02_square.py").write_text(ORDERED)
    (sample / "exercises/01_basics/02_square.py").write_text("VALUE = 3\n")
    first = ("--run-first", "test_c", "--run-first", "test_b")
    result = grade(sample, "square", target="exercises", extra_args=first)
    assert [(t["name"], t["status"]) for t in result.tests] == [
        ("test_c", "failed"),
        ("test_b", "passed"),
        ("test_a", "failed"),
    ]
    stopped = grade(sample, "square", target="exercises", extra_args=first, stop_first=True)
    assert [t["name"] for t in stopped.tests if t["status"] == "failed"] == ["test_c"]
    assert grade(sample, "square", target="exercises").tests[0]["name"] == "test_a"
