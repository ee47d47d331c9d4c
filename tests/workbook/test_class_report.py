"""`workbook class-report`: a graded batch as one self-contained page for the instructor."""

import json
import re
import shutil
import stat
import zipfile
from html.parser import HTMLParser
from pathlib import Path

from typer.testing import CliRunner

from workbook import catalog as catalog_module
from workbook import class_page, class_report, classroom
from workbook.cli import app

GREETING = "01_basics/01_greeting"
SQUARE = "01_basics/02_square"
HOSTILE = "<script>alert(1)</script>"
HOSTILE_MESSAGE = '<img src=x onerror="alert(2)">'
GREETING_TESTS = [("test_greets", "GET / answers 200"), ("test_only_get", "POST / is refused")]
SQUARE_TESTS = [
    ("test_square[2]", "GET /square/2 answers 4"),
    ("test_square[3]", "GET /square/3 answers 9"),
    ("test_matches_the_reference", "answers like the reference"),
]


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def graded(
    exercise_id: str,
    status: str,
    score: float,
    outcomes: dict[str, str | tuple[str, str]],
    *,
    flags: list[dict[str, object]] | None = None,
    message: str = "",
    score_if_trusted: float | None = None,
) -> dict[str, object]:
    """One exercise as `workbook grade --format json` writes it."""
    title, max_score, known = (
        ("Greet the world", 10, GREETING_TESTS)
        if exercise_id == GREETING
        else ("Square a number", 5, SQUARE_TESTS)
    )
    tests = []
    for name, requirement in known:
        if name not in outcomes:
            continue
        outcome = outcomes[name]
        test_status, test_message = outcome if isinstance(outcome, tuple) else (outcome, "")
        tests.append(
            {
                "name": name,
                "requirement": requirement,
                "status": test_status,
                "message": test_message,
                "hint": "",
                "duration_s": 0.01,
                "details": {},
                "output": "",
                "stub_may_pass": None,
            }
        )
    return {
        "id": exercise_id,
        "path": f"exercises/{exercise_id}.py",
        "title": title,
        "status": status,
        "score": score,
        "max_score": max_score,
        "feedback": "requirements",
        "flagged": bool(flags),
        "flags": flags or [],
        "score_if_trusted": score_if_trusted,
        "message": message,
        "duration_s": 0.5,
        "tests": tests,
    }


ALL_PASS = {name: "passed" for name, _ in GREETING_TESTS + SQUARE_TESTS}


def submission(name: str, exercises: list[dict[str, object]], **extra: object) -> dict[str, object]:
    score = sum(float(e["score"]) for e in exercises)  # type: ignore[arg-type]
    data = {
        "name": name,
        "source": f"/nowhere/{name}",
        "score": score,
        "max_score": 15,
        "problem": "",
        "tampered": [],
        "exercises": exercises,
    }
    data.update(extra)
    return data


def batch(*submissions: dict[str, object]) -> dict[str, object]:
    return {
        "schema_version": 1,
        "max_score": 15,
        "trusted": False,
        "manifest": None,
        "warnings": [],
        "problems": [],
        "submissions": list(submissions),
    }


def crafted() -> dict[str, object]:
    """Four students whose every requirement has a known outcome."""
    alice = submission(
        "alice",
        [graded(GREETING, "passed", 10, ALL_PASS), graded(SQUARE, "passed", 5, ALL_PASS)],
    )
    bob = submission(
        "bob",
        [
            graded(
                GREETING,
                "failed",
                5,
                {"test_greets": "passed", "test_only_get": ("failed", "expected 405, not 200")},
            ),
            graded(SQUARE, "not_attempted", 0, {}, message="not attempted: the file is the stub"),
        ],
    )
    flag = {"path": "exercises/01_basics/02_square.py", "line": 3, "reason": "imports _pytest"}
    hostile = submission(
        HOSTILE,
        [
            graded(GREETING, "passed", 10, ALL_PASS),
            graded(
                SQUARE,
                "error",
                0,
                {
                    "test_square[2]": ("failed", HOSTILE_MESSAGE),
                    "test_square[3]": "passed",
                    "test_matches_the_reference": ("error", "it raised"),
                },
                flags=[flag],
                score_if_trusted=1.67,
            ),
        ],
        tampered=[{"path": "tests/01_basics/test_01_greeting.py", "status": "modified"}],
    )
    carol = submission(
        "carol",
        [
            graded(GREETING, "crashed", 0, {}, message="the app crashed while importing"),
            graded(SQUARE, "missing", 0, {}, message="exercises/01_basics/02_square.py is gone"),
        ],
    )
    return batch(alice, bob, hostile, carol)


class Cells(HTMLParser):
    """The heat maps' rows: {test name: (the 'met' count, [cell class per student])}."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[str, list[str]]] = {}
        self.heads: list[str] = []
        self._row: str | None = None
        self._in_counts = False
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-test"):
            self._row = str(found["data-test"])
            self.rows[self._row] = ("", [])
        elif tag == "td" and self._row:
            classes = str(found.get("class", "")).split()
            if "hm" in classes:
                self.rows[self._row][1].append(classes[1])
            self._in_counts = "counts" in classes
        elif tag == "th" and "student" in str(found.get("class", "")):
            self._in_head = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        self._in_counts = self._in_head = False

    def handle_data(self, data: str) -> None:
        if self._in_counts and self._row:
            self.rows[self._row] = (data, self.rows[self._row][1])
        if self._in_head and len(self.heads) < 4:
            self.heads.append(data)


def page_of(results: dict[str, object], tmp_path: Path, *args: str) -> str:
    source = tmp_path / "batch.json"
    source.write_text(json.dumps(results))
    output = tmp_path / "class.html"
    result = run("class-report", str(source), "-o", str(output), *args)
    assert result.exit_code == 0, result.output
    return output.read_text(encoding="utf-8")


def test_the_heat_map_counts_every_requirement_of_every_student(tmp_path):
    cells = Cells()
    cells.feed(page_of(crafted(), tmp_path))
    assert cells.heads == ["alice", "bob", HOSTILE, "carol"]
    assert cells.rows == {
        "test_greets": ("3 of 4", ["ok", "ok", "ok", "err"]),
        "test_only_get": ("2 of 4", ["ok", "bad", "ok", "err"]),
        "test_square[2]": ("1 of 2", ["ok", "none", "bad", "none"]),
        "test_square[3]": ("2 of 2", ["ok", "none", "ok", "none"]),
        "test_matches_the_reference": ("1 of 2", ["ok", "none", "err", "none"]),
    }


def test_cells_read_without_colour(tmp_path):
    page = page_of(crafted(), tmp_path)
    row = re.search(r'<tr data-test="test_only_get">(.*?)</tr>', page, re.S)
    assert row is not None
    marks = re.findall(r'<td class="hm \w+" title="([^"]*)">(.)</td>', row.group(1))
    assert [mark for _, mark in marks] == ["✓", "✗", "✓", "!"]
    assert "bob · POST / is refused: failed (expected 405, not 200)" in marks[1][0]
    assert "carol · POST / is refused: crashed (the app crashed while importing)" in marks[3][0]
    for words in ("✓</b> passed", "✗</b> failed", "!</b> error", "·</b> not run"):
        assert words in page, words


def test_each_exercise_has_its_score_distribution(tmp_path):
    page = page_of(crafted(), tmp_path)
    for exercise in (GREETING, SQUARE, "Greet the world", "Square a number"):
        assert exercise in page
    assert (
        f'aria-label="{GREETING}: not done: 0, 0%: 1, 1-24%: 0, 25-49%: 0, 50-74%: 1, '
        '75-99%: 0, 100%: 2"' in page
    )
    assert (
        f'aria-label="{SQUARE}: not done: 2, 0%: 1, 1-24%: 0, 25-49%: 0, 50-74%: 0, '
        '75-99%: 0, 100%: 1"' in page
    )
    assert 'aria-label="Total scores: 0%: 1, 1-24%: 0, 25-49%: 1, 50-74%: 1, 75-99%: 0' in page
    assert page.count("<svg") == 3


def test_the_requirements_failing_most_come_first(tmp_path):
    page = page_of(crafted(), tmp_path)
    section = page.split("Requirements most often not met")[1].split("<h2>")[0]
    rows = re.findall(r"<tr><td>([^<]*)</td>.*?</span>(\d+ of \d+)</td></tr>", section)
    assert rows == [  # by the share not met, then by how many
        ("POST / is refused", "2 of 4"),
        ("GET /square/2 answers 4", "1 of 2"),
        ("answers like the reference", "1 of 2"),
        ("GET / answers 200", "1 of 4"),
    ]


class Tags(HTMLParser):
    """Every tag of a page, with its attributes' names."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}


def test_the_page_loads_nothing_and_runs_nothing(tmp_path):
    page = page_of(crafted(), tmp_path)
    tags = Tags()
    tags.feed(page)
    assert not tags.tags & {"script", "link", "iframe", "img", "object", "embed", "a", "form"}
    assert not tags.attributes & {"src", "href", "action", "srcset", "xlink:href"}
    assert not {a for a in tags.attributes if a.startswith("on")}
    for external in ("@import", "url(", "http://", "https://"):
        assert external not in page.lower(), external
    assert page.count("<html") == 1
    assert "default-src 'none'" in page


def test_hostile_names_and_messages_are_escaped(tmp_path):
    page = page_of(crafted(), tmp_path)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    assert 'onerror="' not in page


def test_what_needs_attention_is_listed_per_submission(tmp_path):
    page = page_of(crafted(), tmp_path)
    assert "locked file tests/01_basics/test_01_greeting.py: modified" in page
    assert "flagged exercises/01_basics/02_square.py:3: imports _pytest" in page
    assert "<div><b>1</b>need your attention</div>" in page
    square_points = re.search(r'<tr class="score"><td>points \(of 5\)</td>(.*?)</tr>', page)
    assert square_points is not None
    assert re.findall(r">([^<]+)</td>", square_points.group(1)) == ["5", "0", "0 ⚑", "0"]
    assert "flagged for your review and scored 0; trusted, it would score 1.67" in page
    assert "<div><b>1</b>with full marks</div>" in page


def state_file(hints: dict[str, int], peeked: tuple[str, ...] = ()) -> str:
    exercises = {
        key: {"status": "pending", "hints_shown": count, "peeked": key in peeked}
        for key, count in hints.items()
    }
    return json.dumps({"version": 1, "current": None, "exercises": exercises})


def test_hints_and_peeks_come_from_the_grade_the_folder_or_the_zip(tmp_path):
    results = crafted()
    students = results["submissions"]
    assert isinstance(students, list)
    students[0]["progress"] = json.loads(state_file({GREETING: 2}, peeked=(GREETING,)))
    folder = tmp_path / "submissions" / "bob"
    (folder / "exercises").mkdir(parents=True)
    (folder / ".workbook").mkdir()
    (folder / ".workbook" / "state.json").write_text(state_file({SQUARE: 1}))
    students[1]["source"] = str(folder)
    archive = tmp_path / "submissions" / "hostile.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("hostile/exercises/01_basics/01_greeting.py", "")
        bundle.writestr("hostile/.workbook/state.json", state_file({SQUARE: 3}))
    students[2]["source"] = "submissions/hostile.zip"  # relative to where the command runs
    data = class_report.load([write(results, tmp_path)], base=tmp_path)
    assert [s.progress is not None for s in data.students] == [True, True, True, False]
    page = class_page.to_html(data)
    greeting = re.search(rf"<code>{GREETING}</code>.*?</tr>", page, re.S)
    square = re.search(rf"<code>{SQUARE}</code>.*?</tr>", page, re.S)
    assert greeting is not None
    assert square is not None
    assert '<td class="num">2 <span class="muted">by 1</span></td><td class="num">1</td>' in (
        greeting.group(0)
    )
    assert '<td class="num">4 <span class="muted">by 2</span></td><td class="num">0</td>' in (
        square.group(0)
    )
    assert f'<td class="num">2</td><td>{GREETING}</td>' in page
    assert '<td class="muted">—</td><td class="muted">—</td>' in page  # carol: none came


def test_without_any_progress_the_page_says_so(tmp_path):
    page = page_of(crafted(), tmp_path)
    assert "No progress files came with these submissions" in page
    assert "hints used</th>" not in page


def write(results: dict[str, object], folder: Path, name: str = "batch.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(results))
    return path


def test_several_result_files_merge_and_a_regrade_replaces(tmp_path):
    first = crafted()
    regrade = batch(
        submission(
            "bob",
            [graded(GREETING, "passed", 10, ALL_PASS), graded(SQUARE, "passed", 5, ALL_PASS)],
        ),
        submission("dave", [graded(GREETING, "passed", 10, ALL_PASS)]),
    )
    paths = [write(first, tmp_path, "monday.json"), write(regrade, tmp_path, "tuesday.json")]
    data = class_report.load(paths, progress=False)
    assert [s.name for s in data.students] == ["alice", "bob", HOSTILE, "carol", "dave"]
    assert data.students[1].score == 15
    assert "bob is graded in several files: the grade in tuesday.json is shown" in data.warnings


def test_anonymous_names_every_submission_by_number(tmp_path):
    page = page_of(crafted(), tmp_path, "--anonymous")
    cells = Cells()
    cells.feed(page)
    assert cells.heads == ["student 1", "student 2", "student 3", "student 4"]
    assert "alice" not in page
    assert "script" not in page


def test_the_page_is_private_and_lands_beside_the_results_by_default(tmp_path):
    source = write(crafted(), tmp_path)
    result = run("class-report", str(source))
    assert result.exit_code == 0, result.output
    page = tmp_path / "class-report.html"
    assert stat.S_IMODE(page.stat().st_mode) == 0o600


def test_results_that_are_not_a_grade_are_a_usage_error(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run("class-report", str(broken))
    assert result.exit_code == 2
    assert "broken.json:notJSON" in "".join(result.output.split())  # rich wraps long paths
    newer = write({**crafted(), "schema_version": 99}, tmp_path, "newer.json")
    result = run("class-report", str(newer))
    assert result.exit_code == 2
    assert "schema version 99" in result.output
    other = write({"tests": []}, tmp_path, "other.json")
    assert run("class-report", str(other)).exit_code == 2


def test_a_real_grade_makes_a_page(sample, tmp_path):
    """The page reads what `workbook grade --format json` writes today."""
    student = tmp_path / "erin"
    shutil.copytree(sample, student, ignore=shutil.ignore_patterns(".workbook"))
    shutil.copy(sample / "solutions/01_basics/01_greeting.py", student / "exercises/01_basics")
    square = student / "exercises/01_basics/02_square.py"
    square.write_text(square.read_text() + "\nATTEMPTED = True\n")  # still the stub's routes
    (student / ".workbook").mkdir()
    (student / ".workbook" / "state.json").write_text(state_file({SQUARE: 1}))
    graded_batch = classroom.grade(catalog_module.load(sample), [str(student)], workers=2)
    source = write(graded_batch.to_json(), tmp_path)
    data = class_report.load([source])
    assert [(s.name, s.score) for s in data.students] == [("erin", 10.0)]
    cells = Cells()
    cells.feed(class_page.to_html(data))
    assert cells.rows["test_greets"] == ("1 of 1", ["ok"])
    assert cells.rows["test_square[2]"] == ("0 of 1", ["bad"])
    assert data.students[0].progress is not None
    assert data.students[0].progress[SQUARE].hints_shown == 1


def test_a_hostile_progress_file_changes_no_count(tmp_path):
    results = crafted()
    students = results["submissions"]
    assert isinstance(students, list)
    odd = {"exercises": {GREETING: {"hints_shown": "lots", "peeked": "yes"}, SQUARE: [1]}}
    students[0]["progress"] = odd
    folder = tmp_path / "bob"
    (folder / "exercises").mkdir(parents=True)
    (folder / ".workbook").mkdir()
    (folder / ".workbook" / "state.json").write_text("{broken")
    students[1]["source"] = str(folder)
    linked = tmp_path / "hostile"
    (linked / "exercises").mkdir(parents=True)
    (linked / ".workbook").mkdir()
    (linked / ".workbook" / "state.json").symlink_to(tmp_path / "elsewhere.json")
    (tmp_path / "elsewhere.json").write_text(state_file({SQUARE: 3}))
    students[2]["source"] = str(linked)
    data = class_report.load([write(results, tmp_path)])
    assert [s.progress is not None for s in data.students] == [True, False, False, False]
    assert class_report.hints_for(data, GREETING) == (0, 0, 0)
    assert "hints used</th>" in class_page.to_html(data)
