"""The CLI contract: commands, JSON shapes and exit codes (0 passed, 1 not, 2 usage)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbook.cli import EXIT_GRADER, app, main
from workbook.entry import plain_check

GREETING = "01_basics/01_greeting"
SQUARE = "01_basics/02_square"


def run(root: Path, *args: str, input: str | None = None):
    return CliRunner().invoke(app, ["--root", str(root), *args], input=input)


def solve(root: Path) -> None:
    solution = root / "solutions/01_basics/01_greeting.py"
    (root / "exercises/01_basics/01_greeting.py").write_text(solution.read_text())


def test_overview_welcomes_once_and_names_the_next_exercise(sample):
    first = run(sample)
    assert first.exit_code == 0
    assert "Welcome to the sample." in first.output
    assert f"workbook check {GREETING}" in first.output
    assert "Welcome to the sample." not in run(sample).output


def test_list_json_shape(sample):
    result = run(sample, "list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert [row["id"] for row in rows] == [GREETING, "01_basics/02_square"]
    assert set(rows[0]) >= {"id", "module", "title", "status", "lesson", "notebook"}
    assert rows[0]["status"] == "pending"
    assert rows[0]["lesson"] == "lessons/01-basics.md"


def test_check_json_shape_and_exit_code_on_failure(sample):
    result = run(sample, "check", "greeting", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert set(data) >= {
        "schema_version",
        "exercise",
        "status",
        "score",
        "max_score",
        "duration_s",
        "tests",
    }
    assert data["status"] == "failed"
    assert data["exercise"] == GREETING
    assert set(data["tests"][0]) >= {
        "name",
        "requirement",
        "status",
        "message",
        "hint",
        "duration_s",
    }
    assert data["hint"] == "", "a check reveals no hint the learner did not ask for"
    assert data["passed_before"] is False


def test_check_text_shows_requirement_diff_and_lesson_and_how_to_ask(sample):
    result = run(sample, "check", "greeting")
    assert result.exit_code == 1
    for expected in (
        "✗ GET / answers 200 with the greeting",
        'expected body {"hello": "world"}, not {"hello": "nobody"}',
        f"Stuck? `workbook hint {GREETING}` reveals the next hint.",
        "lessons/01-basics.md#greeting",
    ):
        assert expected in result.output
    assert "Hint 1" not in result.output


def test_a_check_never_counts_as_a_hint_used_and_repeats_the_one_asked_for(sample):
    run(sample, "check", "greeting")
    data = json.loads(run(sample, "report", "--format", "json").output)
    assert data["hints_used"] == 0
    assert "Hint 1 of 3: The body is not the greeting yet." in run(sample, "hint").output
    again = run(sample, "check", "greeting")
    assert "Hint 1 of 3: The body is not the greeting yet." in again.output
    assert "Hint 2 of 3" in run(sample, "hint").output, "a check does not use up a hint"


def test_a_failure_after_a_pass_keeps_the_pass_and_says_so(sample):
    solve(sample)
    run(sample, "check", "greeting")
    path = sample / ".workbook/state.json"
    saved = json.loads(path.read_text())
    saved["exercises"][GREETING]["first_passed_at"] = "2020-01-01T00:00:00+00:00"
    path.write_text(json.dumps(saved))
    (sample / "exercises/01_basics/01_greeting.py").write_text("from fastapi import FastAPI\n")
    result = run(sample, "check", "greeting")
    assert result.exit_code == 1
    assert "Passing before, failing now" in result.output
    rows = json.loads(run(sample, "list", "--json").output)
    assert rows[0]["status"] == "done"
    assert "done · failing now" in run(sample, "list").output
    solve(sample)
    run(sample, "check", "greeting")
    last = json.loads(path.read_text())["exercises"][GREETING]
    assert last["first_passed_at"] == "2020-01-01T00:00:00+00:00"


def test_a_bare_check_that_passes_says_what_it_graded_and_what_is_next(sample):
    solve(sample)
    result = run(sample, "check")
    assert result.exit_code == 0
    flat = " ".join(result.output.split())
    expected = f"That was {GREETING}. `workbook check` now grades the next one: {SQUARE}."
    assert expected in flat, flat


def test_passing_check_marks_done_and_moves_on(sample):
    solve(sample)
    result = run(sample, "check", "greeting")
    assert result.exit_code == 0
    assert "Exercise done" in result.output
    rows = json.loads(run(sample, "list", "--json").output)
    assert rows[0]["status"] == "done"
    assert "workbook check 01_basics/02_square" in run(sample).output


def test_check_of_the_reference_does_not_touch_progress(sample):
    result = run(sample, "check", "greeting", "--target", "solutions", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["status"] == "passed"
    assert json.loads(run(sample, "list", "--json").output)[0]["status"] == "pending"


@pytest.mark.parametrize(
    "args",
    [
        ("check", "no_such_exercise"),
        ("check", "01_basics"),  # ambiguous
        ("check", "--target", "elsewhere"),
        ("reset",),
        ("bogus-command",),
    ],
)
def test_usage_errors_exit_2(sample, args):
    assert run(sample, *args).exit_code == 2


def test_no_workbook_here_is_a_usage_error(tmp_path):
    result = run(tmp_path, "list")
    assert result.exit_code == 2
    assert "curriculum.toml" in result.output


def test_broken_catalog_lists_its_problems(sample):
    catalog = sample / "curriculum.toml"
    catalog.write_text(catalog.read_text().replace('section = "square"', 'section = "x"'))
    result = run(sample, "list")
    assert result.exit_code == EXIT_GRADER, "the catalog is the grader's file, not the learner's"
    assert "section #x is not an anchor" in result.output


def test_hints_build_up_and_end_at_the_lesson(sample):
    outputs = [run(sample, "hint", "square").output for _ in range(3)]
    assert "Hint 1 of 2: The route is missing." in outputs[0]
    assert "Hint 2 of 2: Add a path parameter." in outputs[1]
    assert "lessons/01-basics.md#square" in outputs[1]
    assert "That was the last hint" in outputs[2]


def test_solution_is_gated_behind_a_pass(sample):
    locked = run(sample, "solution", "greeting")
    assert locked.exit_code == 1
    assert "opens once your exercise passes" in locked.output
    solve(sample)
    run(sample, "check", "greeting")
    shown = run(sample, "solution", "greeting")
    assert shown.exit_code == 0
    assert 'return {"hello": "world"}' in shown.output


def test_peeking_is_confirmed_and_recorded(sample):
    declined = run(sample, "solution", "greeting", "--force", input="n\n")
    assert declined.exit_code != 0
    peek = run(sample, "solution", "greeting", "--force", "--yes")
    assert peek.exit_code == 0
    state = json.loads((sample / ".workbook/state.json").read_text())
    assert state["exercises"][GREETING]["peeked"] is True


def test_reset_restores_the_pristine_stub(sample):
    stub = sample / "exercises/01_basics/01_greeting.py"
    pristine = stub.read_text()
    run(sample)  # the first run saves pristine copies
    stub.write_text("broken = (\n")
    result = run(sample, "reset", "greeting", "--yes")
    assert result.exit_code == 0
    assert stub.read_text() == pristine


def test_reset_asks_first(sample):
    stub = sample / "exercises/01_basics/01_greeting.py"
    run(sample)
    stub.write_text("mine = 1\n")
    result = run(sample, "reset", "--all", input="n\n")
    assert result.exit_code != 0
    assert stub.read_text() == "mine = 1\n"


def test_reset_without_a_terminal_says_to_add_yes(sample):
    result = run(sample, "reset", "greeting")
    assert result.exit_code == 2
    assert "add --yes to confirm the reset" in result.stderr


def test_skip_marks_skipped_and_moves_on(sample):
    assert run(sample, "skip", "greeting").exit_code == 0
    rows = json.loads(run(sample, "list", "--json").output)
    assert rows[0]["status"] == "skipped"
    assert "workbook check 01_basics/02_square" in run(sample).output


def test_grader_failure_is_not_a_verdict(sample):
    (sample / "tests/01_basics/test_01_greeting.py").write_text("import nowhere_to_be_found\n")
    result = run(sample, "check", "greeting", "--json")
    assert result.exit_code == EXIT_GRADER
    data = json.loads(result.output)
    assert data["status"] == "error"
    assert "grader_error" in data


def test_verify_json_shape(sample):
    result = run(sample, "verify", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 0, data
    assert data["ok"] is True
    first = data["exercises"][0]
    assert set(first) >= {"id", "solution", "stub", "known_wrong", "mutants"}
    assert first["solution"] == "passed"
    assert {w["status"] for w in first["known_wrong"]} == {"failed"}
    assert first["mutants"]["total"] >= 1
    assert first["mutants"] == {
        "total": first["mutants"]["total"],
        "killed": first["mutants"]["total"],
        "equivalent": [],
        "survived": [],
    }


def test_verify_accepts_a_survivor_declared_equivalent_with_its_reason(sample):
    path = sample / "solutions/01_basics/01_greeting.py"
    path.write_text(path.read_text() + "\n\nRETRIES = 3\n")
    plan = sample / "tests/01_basics/mutants/01_greeting.toml"
    plan.parent.mkdir()
    plan.write_text(
        "[[equivalent]]\n"
        'diff = "-RETRIES = 3\\n+RETRIES = 4"\n'
        'reason = "nothing reads RETRIES"\n'
        "[[equivalent]]\n"
        'diff = "-RETRIES = 3\\n+RETRIES = 2"\n'
        'reason = "nothing reads RETRIES"\n'
    )
    result = run(sample, "verify", "greeting", "--json")
    data = json.loads(result.output)
    assert result.exit_code == 0, data
    mutants = data["exercises"][0]["mutants"]
    assert mutants["killed"] == mutants["total"] - 2
    assert mutants["equivalent"] == [
        {"diff": "-RETRIES = 3\n+RETRIES = 2", "reason": "nothing reads RETRIES"},
        {"diff": "-RETRIES = 3\n+RETRIES = 4", "reason": "nothing reads RETRIES"},
    ]
    assert mutants["survived"] == []


def test_verify_a_subset_by_id(sample):
    data = json.loads(run(sample, "verify", "square", "--json").output)
    assert [e["id"] for e in data["exercises"]] == ["01_basics/02_square"]


def test_verify_a_whole_module_by_its_id(sample):
    data = json.loads(run(sample, "verify", "01_basics", "--json").output)
    assert [e["id"] for e in data["exercises"]] == ["01_basics/01_greeting", "01_basics/02_square"]


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        ("stub_solved", "the untouched stub passes"),
        ("wrong_passes", "known-wrong variant 01_greeting__wrong_word.diff passes"),
        ("too_few_variants", "has 2 known-wrong variants; at least 3 are needed"),
        ("stray_file", "exercises/01_basics/03_extra.py belongs to no exercise"),
        ("stray_variant", "01_greeting__wrong_word.py is not named <exercise>__<mistake>.diff"),
        ("no_todo", "the stub has no `# TODO` line"),
        ("no_sentence", "needs a sentence naming its mistake"),
        ("stale_diff", "01_greeting__wrong_word.diff no longer applies to the solution"),
        ("unformatted_solution", "ruff format on solutions/"),
        ("mutant_survives", "a mutant survives (number, line 11)"),
        ("stale_equivalent", "a declared equivalent matches no mutant now"),
        ("equivalent_without_reason", "equivalent #1 needs a diff and a one-line reason"),
    ],
)
def test_verify_catches_each_problem(sample, breakage, problem):
    exercises, solutions = sample / "exercises/01_basics", sample / "solutions/01_basics"
    wrong = sample / "tests/01_basics/wrong/01_greeting__wrong_word.diff"
    plan = sample / "tests/01_basics/mutants/01_greeting.toml"
    plan.parent.mkdir(exist_ok=True)
    if breakage == "stub_solved":
        solve(sample)
    elif breakage == "wrong_passes":
        text = wrong.read_text()
        wrong.write_text(text.replace('"word"}', '"world"}  # not wrong at all'))
    elif breakage == "too_few_variants":
        wrong.unlink()
    elif breakage == "stray_file":
        (exercises / "03_extra.py").write_text("x = 1\n")
    elif breakage == "stray_variant":
        wrong.with_suffix(".py").write_text('"""An old-style variant."""\n')
    elif breakage == "no_todo":
        stub = exercises / "02_square.py"
        stub.write_text(stub.read_text().replace("# TODO: add", "# add"))
    elif breakage == "no_sentence":
        wrong.write_text(wrong.read_text().split("\n", 1)[1])
    elif breakage == "stale_diff":
        path = solutions / "01_greeting.py"
        path.write_text(path.read_text().replace("async def greet()", "async def hello()"))
    elif breakage == "unformatted_solution":
        path = solutions / "02_square.py"
        path.write_text(path.read_text().replace("n * n", "n*n"))
    elif breakage == "mutant_survives":
        path = solutions / "01_greeting.py"
        path.write_text(path.read_text() + "\n\nRETRIES = 3\n")
    elif breakage == "stale_equivalent":
        plan.write_text('[[equivalent]]\ndiff = "-x = 1\\n+x = 2"\nreason = "never read"\n')
    elif breakage == "equivalent_without_reason":
        plan.write_text('[[equivalent]]\ndiff = "-x = 1\\n+x = 2"\n')
    result = run(sample, "verify", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    found = data["problems"] + [p for e in data["exercises"] for p in e["problems"]]
    assert any(problem in p for p in found), found


def test_an_unexpected_error_is_the_graders_and_shows_no_traceback(sample, monkeypatch, capsys):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("workbook.catalog.load", explode)
    monkeypatch.setattr("sys.argv", ["workbook", "--root", str(sample), "list"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == EXIT_GRADER
    err = capsys.readouterr().err
    assert "The grader itself failed" in err
    assert "RuntimeError: boom" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check"], (None, None, "exercises", False)),
        (["check", "01/02", "--json"], (None, "01/02", "exercises", True)),
        (
            ["--root", "wb", "check", "--target", "solutions", "x"],
            (Path("wb"), "x", "solutions", False),
        ),
        (["check", "--help"], None),
        (["check", "a", "b"], None),
        (["list"], None),
    ],
)
def test_only_plain_checks_take_the_fast_path(argv, expected):
    assert plain_check(argv) == expected


def test_the_installed_command_checks_through_the_fast_path(sample):
    command = [sys.executable, "-m", "workbook", "--root", str(sample), "check", "greeting"]
    failed = subprocess.run([*command, "--json"], capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["status"] == "failed"
    solve(sample)
    passed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert passed.returncode == 0
    assert "Exercise done" in passed.stdout
    usage = subprocess.run([*command[:-1], "nothing"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2
    assert "No exercise matches" in usage.stderr


def test_report_is_one_self_contained_html_page(sample, tmp_path):
    solve(sample)
    run(sample, "check", "greeting")
    run(sample, "hint", "square")
    output = tmp_path / "progress.html"
    assert run(sample, "report", "--output", str(output)).exit_code == 0
    page = output.read_text()
    for expected in ("1 / 2", "exercises done", "Greet the world", "1 / 2</td>", "done"):
        assert expected in page, expected
    for external in ("<link", "<script", 'src="http', "@import"):
        assert external not in page, external


def test_report_as_json(sample, tmp_path):
    output = tmp_path / "progress.json"
    assert run(sample, "report", "--format", "json", "-o", str(output)).exit_code == 0
    data = json.loads(output.read_text())
    assert (data["done"], data["total"]) == (0, 2)
    first = data["modules"][0]["exercises"][0]
    assert set(first) >= {"id", "status", "attempts", "hints_used", "peeked", "first_passed_at"}
    assert run(sample, "report", "--format", "pdf").exit_code == 2


def test_report_as_json_goes_to_stdout_without_an_output(sample):
    result = run(sample, "report", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["total"] == 2
    assert not (sample / ".workbook/report.json").exists()


def test_a_file_that_cannot_be_imported_gets_one_banner(sample):
    (sample / "exercises/01_basics/01_greeting.py").write_text("x = 1\ndef greet(:\n")
    result = run(sample, "check", "greeting")
    assert result.exit_code == 1
    assert result.output.count("could not be imported") == 1
    assert "at line 2 of your file" in result.output
    assert "not checked until the file imports: 1 more" in result.output
    assert "failed first" not in result.output


def test_a_reference_that_does_not_load_is_the_graders_failure(sample):
    (sample / "solutions/01_basics/01_greeting.py").write_text("def greet(:\n")
    result = run(sample, "check", "greeting", "--target", "solutions")
    assert result.exit_code == EXIT_GRADER
    assert "solutions/01_basics/01_greeting.py,line1doesnotload" in "".join(result.stderr.split())
    assert "of your file" not in result.output


def test_a_reference_used_beside_the_learners_file_is_the_graders_failure(sample):
    (sample / "solutions/01_basics/02_square.py").write_text("import no_such_module\n")
    result = run(sample, "check", "square")  # the suite compares against the reference
    assert result.exit_code == EXIT_GRADER
    assert "solutions/01_basics/02_square.py" in "".join(result.stderr.split())
