"""The catalog loader: a valid catalog loads, and every problem is named clearly."""

from pathlib import Path

import pytest

from workbook import catalog
from workbook.catalog import CatalogError


def edit(root: Path, old: str, new: str) -> None:
    path = root / catalog.FILENAME
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def problems(root: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        catalog.load(root)
    return caught.value.problems


def test_loads_modules_and_exercises_in_order(sample):
    loaded = catalog.load(sample)
    assert [e.id for e in loaded.exercises] == ["01_basics/01_greeting", "01_basics/02_square"]
    greeting, square = loaded.exercises
    assert greeting.points == 10
    assert square.points == 5
    assert greeting.test_timeout == 30
    assert greeting.run_timeout == 120
    assert greeting.lesson_link() == "lessons/01-basics.md#greeting"
    assert greeting.stub(sample) == sample / "exercises/01_basics/01_greeting.py"
    assert [p.name for p in greeting.known_wrong(sample)] == [
        "01_greeting__any_method.diff",
        "01_greeting__wrong_key.diff",
        "01_greeting__wrong_word.diff",
    ]


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("01_basics/02_square", ["01_basics/02_square"]),
        ("square", ["01_basics/02_square"]),
        ("01/02", ["01_basics/02_square"]),
        ("exercises/01_basics/02_square.py", ["01_basics/02_square"]),
        ("01_basics", ["01_basics/01_greeting", "01_basics/02_square"]),
        ("nothing", []),
    ],
)
def test_finds_exercises_by_fragment(sample, fragment, expected):
    assert [e.id for e in catalog.load(sample).find(fragment)] == expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'name = "02_square"',
            'name = "01_greeting"',
            "exercise 01_basics/01_greeting: duplicate id",
        ),
        (
            'hints = ["The route is missing.", "Add a path parameter."]',
            'hints = ["only one"]',
            "exercise 01_basics/02_square: needs 2 or 3 hints",
        ),
        ('"Add a path parameter."', '" "', "exercise 01_basics/02_square: hint 2 is empty"),
        (
            'section = "square"',
            'section = "nowhere"',
            "exercise 01_basics/02_square: section #nowhere is not an anchor",
        ),
        (
            'lesson = "lessons/01-basics.md"',
            'lesson = "lessons/missing.md"',
            "module 01_basics: lesson file lessons/missing.md does not exist",
        ),
        (
            'name = "02_square"',
            'name = "02_cube"',
            "exercise 01_basics/02_cube: stub exercises/01_basics/02_cube.py does not exist",
        ),
        (
            'name = "02_square"',
            'name = "Square!"',
            "exercise 01_basics/Square!: `name` must look like 02_wrap_blocking_sdk",
        ),
        (
            "points = 5",
            "points = 5\nhint = 'typo'",
            "exercise 01_basics/02_square: unknown key `hint`",
        ),
        (
            "format_version = 1",
            "format_version = 7",
            "curriculum.toml: format_version is 7 (update the workbook)",
        ),
        ("points = 5", "points = -1", "exercise 01_basics/02_square: `points` must be a positive"),
        ('title = "Square a number"\n', "", "exercise 01_basics/02_square: `title` is missing"),
    ],
)
def test_names_each_problem(sample, old, new, expected):
    edit(sample, old, new)
    assert any(p.startswith(expected) for p in problems(sample)), problems(sample)


def test_reports_every_problem_at_once(sample):
    edit(sample, 'section = "square"', 'section = "nowhere"')
    edit(sample, '"Add a path parameter."', '""')
    assert len(problems(sample)) == 2


def test_unreadable_toml_is_one_clear_problem(sample):
    (sample / catalog.FILENAME).write_text("format_version = [")
    assert problems(sample)[0].startswith("cannot read curriculum.toml")


def test_finds_the_root_from_a_subfolder(sample):
    assert catalog.find_root(sample / "exercises" / "01_basics") == sample
    assert catalog.find_root(sample.parent) is None
