"""Rich output for the terminal: verdicts, lists, hints and the author's report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from workbook import messages
from workbook.catalog import Catalog, Exercise
from workbook.grading import CheckResult
from workbook.progress import Recorded, done_count
from workbook.state import ExerciseState, State

if TYPE_CHECKING:
    from workbook.classroom import Batch
    from workbook.verify import Report

MARKS = {
    "passed": ("✓", "green"),
    "failed": ("✗", "red"),
    "error": ("✗", "red"),
    "timeout": ("⏱", "yellow"),
    "crashed": ("✗", "magenta"),
    "skipped": ("·", "dim"),
}
OUTPUT_LINES = 8
SHORT_MESSAGE = 100
BAR_WIDTH = 24
MAX_FLAGS = 3


def console(stderr: bool = False) -> Console:
    """A console that prints text as given: no markup, no guessing at highlights."""
    return Console(stderr=stderr, highlight=False, markup=False)


def link(path: Path, root: Path, anchor: str = "") -> Text:
    """A clickable (OSC 8) path relative to the workbook root."""
    shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    shown += f"#{anchor}" if anchor else ""
    return Text(shown, style=f"link {path.resolve().as_uri()}")


def progress_bar(done: int, total: int) -> Text:
    filled = round(BAR_WIDTH * done / total) if total else 0
    bar = Text("█" * filled, style="green") + Text("░" * (BAR_WIDTH - filled), style="dim")
    return Text(f"{messages.PROGRESS} ") + bar + Text(f" {done}/{total} exercises done")


def header(exercise: Exercise, root: Path) -> Group:
    title = Text.assemble((exercise.id, "bold"), " · ", exercise.title)
    return Group(title, link(exercise.stub(root), root))


def _details(test: dict[str, Any], helped: set[str]) -> list[Text]:
    details = test.get("details") or {}
    lines = []
    if details.get("request"):
        lines.append(Text(details["request"], style="cyan"))
    # a short mismatch reads best as one sentence; a long one as a diff
    diff = (details.get("diff") or []) if len(test["message"]) > SHORT_MESSAGE else []
    if diff:
        lines.append(Text(f"the {details.get('what', 'value')} differs (- expected, + yours):"))
    else:
        lines.append(Text(test["message"]))
    for line in diff:
        style = "red" if line.startswith("-") else "green" if line.startswith("+") else "dim"
        lines.append(Text(line, style=style))
    if details.get("body") and not diff:
        lines.append(Text(f"body: {details['body']}", style="dim"))
    if details.get("line"):
        lines.append(Text(f"at line {details['line']} of your file", style="dim"))
    if test.get("hint") and test["hint"] not in helped:
        helped.add(test["hint"])
        lines.append(Text(f"? {test['hint']}", style="yellow"))
    output = (test.get("output") or "").strip().splitlines()
    if output:
        lines.append(Text(f"{messages.YOUR_OUTPUT}:", style="dim"))
        shown = output[:OUTPUT_LINES] + (["…"] if len(output) > OUTPUT_LINES else [])
        lines.extend(Text(f"  {line}", style="dim") for line in shown)
    return lines


def indented(text: Text | Table, level: int) -> Padding:
    return Padding(text, (0, 0, 0, level), expand=False)


def marked(mark: str, text: Text) -> Padding:
    """``mark text`` with wrapped lines hanging under the text, not under the mark."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    grid.add_row(Text(mark, style=text.style), text)
    return indented(grid, 2)


def requirements(console: Console, result: CheckResult) -> None:
    """Each requirement with ✓ or ✗, and for a failure what was expected and seen."""
    if _import_failure(console, result):
        return
    helped: set[str] = set()
    for test in result.tests:
        mark, style = MARKS.get(test["status"], ("?", "red"))
        console.print(marked(mark, Text(test["requirement"], style=style)))
        if test["status"] == "passed":
            continue
        if test["status"] == "skipped":
            message = test["message"] or messages.NOT_CHECKED
            console.print(indented(Text(message, style="dim"), 6))
            continue
        for line in _details(test, helped):
            console.print(indented(line, 6))


def _import_failure(console: Console, result: CheckResult) -> bool:
    """A file that cannot be imported gets one banner, not a line per requirement."""
    failed = [t for t in result.tests if (t.get("details") or {}).get("kind") == "import"]
    if not failed:
        return False
    console.print(marked("✗", Text(messages.IMPORT_FAILED, style="red")))
    for line in _details(failed[0], set()):
        console.print(indented(line, 6))
    others = sum(t["status"] == "skipped" for t in result.tests)
    if others:
        note = messages.NOT_CHECKED_UNTIL_IMPORT.format(count=others)
        console.print(indented(Text(note, style="dim"), 6))
    return True


def summary(console: Console, result: CheckResult) -> None:
    passed = sum(t["status"] == "passed" for t in result.tests)
    word = messages.STATUS_WORDS.get(result.status, result.status)
    line = f"{passed} of {len(result.tests)} requirements met · {word}"
    console.print(Text(line, style="bold green" if result.passed else "bold"))
    if result.message and result.status in ("timeout", "crashed"):
        console.print(Text(result.message, style=MARKS[result.status][1]))
    for flag in result.flags[:MAX_FLAGS]:
        where = f"{flag['path']}, line {flag['line']}" if flag["line"] else flag["path"]
        note = messages.FLAGGED_AT_RUN_TIME.format(reason=flag["reason"])
        console.print(Text(f"{note} ({where})" if where else note, style="yellow"))


def check_result(
    console: Console,
    result: CheckResult,
    exercise: Exercise,
    root: Path,
    recorded: Recorded,
) -> None:
    """A verdict per requirement, then what to do next."""
    console.print(header(exercise, root))
    console.print()
    requirements(console, result)
    console.print()
    summary(console, result)
    if result.extra.get("public_checks_only"):
        console.print(Text(messages.PUBLIC_CHECKS_ONLY, style="cyan"))
    if result.passed:
        if result.extra.get("public_checks_only"):
            console.print(Text(messages.PUBLIC_PASSED_BANNER, style="bold green"))
            return
        console.print(Text(messages.PASSED_BANNER, style="bold green"))
        console.print(messages.COMPARE_SOLUTION.format(id=exercise.id))
        return
    next_steps(console, exercise, root, recorded)
    console.print(Text(f"{messages.LESSON}: ") + lesson_link(exercise, root))


def next_steps(
    console: Console, exercise: Exercise, root: Path, recorded: Recorded, more: str | None = None
) -> None:
    """After a failure: a regression said plainly, the hint last asked for, or how to ask."""
    if recorded.regressed:
        console.print(Text(messages.PASSED_BEFORE, style="yellow"))
    if recorded.hint is not None:
        print_hint(console, exercise, root, *recorded.hint, more=more)
    else:
        ask = more or messages.FIRST_HINT_PROMPT.format(id=exercise.id)
        console.print(Text(ask, style="dim"))


def lesson_link(exercise: Exercise, root: Path) -> Text:
    return link(root / exercise.lesson, root, exercise.section)


def print_hint(
    console: Console,
    exercise: Exercise,
    root: Path,
    level: int,
    text: str,
    more: str | None = None,
) -> None:
    total = len(exercise.hints)
    title = messages.HINT_HEADER.format(level=level, total=total)
    console.print(Text.assemble((f"{title}: ", "bold yellow"), text))
    if level == total:
        read = messages.LAST_HINT_SUFFIX.format(link="")
        console.print(Text(read) + lesson_link(exercise, root))
    else:
        more = more or messages.FIRST_HINT_PROMPT.format(id=exercise.id)
        console.print(Text(more, style="dim"))


def status_line(progress: ExerciseState) -> Text:
    styles = {"done": "green", "skipped": "yellow", "pending": "dim"}
    shown = Text(progress.status, style=styles.get(progress.status, ""))
    if progress.status == "done" and progress.last_result not in (None, "passed"):
        shown.append(f" · {messages.FAILING_NOW}", style="yellow")
    return shown


def exercise_list(console: Console, catalog: Catalog, state: State, current: str | None) -> None:
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column()
    table.add_column(no_wrap=True)
    for module in catalog.modules:
        table.add_row("", Text(module.id, style="bold"), Text(module.title, style="bold"), "")
        for exercise in module.exercises:
            marker = "▶" if exercise.id == current else ""
            name = link(exercise.stub(catalog.root), catalog.root)
            name.plain = f"  {exercise.name}"
            table.add_row(marker, name, exercise.title, status_line(state.of(exercise.id)))
    console.print(table)
    console.print(progress_bar(done_count(catalog, state), len(catalog.exercises)))


def overview(console: Console, catalog: Catalog, state: State, current: Exercise | None) -> None:
    console.print(Text(catalog.title, style="bold"))
    console.print(progress_bar(done_count(catalog, state), len(catalog.exercises)))
    console.print()
    if current is None:
        console.print(Text(messages.ALL_DONE, style="bold green"))
        console.print(catalog.final_message)
        return
    console.print(Text(f"{messages.NEXT_UP}:", style="bold"))
    console.print(header(current, catalog.root))
    console.print(Text(f"{messages.LESSON}: ") + lesson_link(current, catalog.root))
    console.print(Text("Notebook: ") + link(catalog.root / current.notebook, catalog.root))
    console.print()
    console.print(f"Grade it with: workbook check {current.id}")


def _ratio(good: int, total: int, shown: str = "") -> Text:
    return Text(shown or f"{good}/{total}", style="green" if good == total else "red")


@contextmanager
def verify_progress(
    console: Console, enabled: bool = True, label: str = messages.VERIFY_RUNNING
) -> Iterator[Callable[[int, int], None]]:
    """A progress bar with counts and an ETA while runs go on, on a terminal only."""
    if not enabled or not console.is_terminal:
        yield lambda done, total: None
        return
    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with RichProgress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("verify", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def verify_report(console: Console, report: Report) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("exercise", no_wrap=True)
    for column in ("solution", "stub", "wrong", "mutants"):
        table.add_column(column, no_wrap=True)
    for item in report.exercises:
        failing = sum(1 for w in item.known_wrong if w["status"] != "passed")
        mutants = item.mutants
        declared = len(mutants.equivalent)
        score = f"{mutants.killed + declared}/{mutants.total}"
        score += f" ({declared} eq)" if declared else ""
        table.add_row(
            Text(item.id, style="red" if item.problems else ""),
            Text(item.solution, style="green" if item.solution == "passed" else "red"),
            item.stub,
            _ratio(failing, len(item.known_wrong)),
            _ratio(mutants.killed + declared, mutants.total, score),
        )
    console.print(table)
    problems = report.problems + [f"{e.id}: {p}" for e in report.exercises for p in e.problems]
    if not problems:
        console.print(Text(messages.VERIFY_OK, style="bold green"))
        return
    console.print(Text(messages.VERIFY_BAD, style="bold red"))
    for problem in problems:
        console.print(f"  - {escape(problem)}")


def grade_summary(console: Console, batch: Batch) -> None:
    """One line per graded submission: its score and what needs the instructor's eye."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("submission", "score", "notes"):
        table.add_column(column, no_wrap=column != "notes")
    for submission in batch.submissions:
        notes = []
        if submission.problem:
            notes.append(submission.problem)
        if submission.flagged:
            notes.append("flagged: " + ", ".join(e.exercise.id for e in submission.flagged))
        if submission.tampered:
            notes.append(f"{len(submission.tampered)} locked file(s) differ")
        errors = [e.exercise.id for e in submission.exercises if e.status == "grader_error"]
        if errors:
            notes.append("grader failed on " + ", ".join(errors))
        table.add_row(
            Text(submission.name, style="yellow" if notes else ""),
            f"{submission.score:g}/{submission.max_score}",
            Text("; ".join(notes), style="yellow"),
        )
    console.print(table)
