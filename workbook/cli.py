"""The ``workbook`` command: a thin layer over the catalog, the grader and the progress."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.text import Text

from workbook import messages, pristine, render, workspace
from workbook.catalog import Exercise
from workbook.checking import EXIT_GRADER, EXIT_NOT_PASSED, EXIT_USAGE, print_json
from workbook.progress import current_exercise, reveal_hint
from workbook.state import State
from workbook.workspace import Workbook

DEBUG_VARIABLE = "WORKBOOK_DEBUG"

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=False,
    invoke_without_command=True,
    help="FastAPI Pro Workbook: lessons, notebooks and graded exercises.",
)
console = render.console()
errors = render.console(stderr=True)

IdArg = Annotated[str | None, typer.Argument(help="Exercise id or a unique part of it.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    errors.print(Text(message, style="red"))
    raise typer.Exit(code)


def open_workbook(ctx: typer.Context) -> Workbook:
    try:
        return workspace.open_workbook(ctx.obj)
    except workspace.UsageError as exc:
        fail(exc.message, exc.code)


def show_warnings(workbook: Workbook) -> None:
    for warning in workbook.store.warnings:
        errors.print(Text(f"warning: {warning}", style="yellow"))


def resolve(workbook: Workbook, fragment: str | None, state: State) -> Exercise:
    try:
        return workspace.resolve(workbook, fragment, state)
    except workspace.UsageError as exc:
        fail(exc.message, exc.code)


def exercises_named(workbook: Workbook, fragments: list[str], state: State) -> list[Exercise]:
    """The exercises each fragment names: a module's id names all of its exercises."""
    modules = {module.id: module.exercises for module in workbook.catalog.modules}
    named: list[Exercise] = []
    for fragment in fragments:
        named += modules.get(fragment.strip().strip("/")) or [resolve(workbook, fragment, state)]
    return list(dict.fromkeys(named))


@app.callback()
def main_callback(
    ctx: typer.Context,
    root: Annotated[
        Path | None, typer.Option(help="The workbook folder (default: found from here).")
    ] = None,
) -> None:
    ctx.obj = root
    if ctx.invoked_subcommand is None:
        overview(ctx)


def overview(ctx: typer.Context) -> None:
    workbook = open_workbook(ctx)
    with workbook.store.update() as state:
        welcome = not state.welcomed
        state.welcomed = True
    show_warnings(workbook)
    if welcome and workbook.catalog.welcome_message:
        console.print(workbook.catalog.welcome_message)
        console.print()
    render.overview(console, workbook.catalog, state, current_exercise(workbook.catalog, state))


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every exercise in order, with its status."""
    workbook = open_workbook(ctx)
    state = workbook.store.read()
    show_warnings(workbook)
    current = current_exercise(workbook.catalog, state)
    if as_json:
        print_json(
            [
                {
                    "id": e.id,
                    "module": e.module,
                    "title": e.title,
                    "status": state.of(e.id).status,
                    "lesson": e.lesson,
                    "notebook": e.notebook,
                    "path": str(e.stub(workbook.root).relative_to(workbook.root)),
                    "points": e.points,
                }
                for e in workbook.catalog.exercises
            ]
        )
        return
    render.exercise_list(console, workbook.catalog, state, current.id if current else None)


@app.command()
def check(
    ctx: typer.Context,
    exercise_id: IdArg = None,
    as_json: JsonOpt = False,
    target: Annotated[
        str, typer.Option(help="Grade the learner's files or the reference solutions.")
    ] = "exercises",
) -> None:
    """Grade one exercise (default: the current one)."""
    from workbook import checking

    raise typer.Exit(checking.check(ctx.obj, exercise_id, target, as_json))


@app.command()
def hint(ctx: typer.Context, exercise_id: IdArg = None) -> None:
    """Reveal the next hint level."""
    workbook = open_workbook(ctx)
    exercise = resolve(workbook, exercise_id, workbook.store.read())
    level, text, last_again = reveal_hint(workbook.store, exercise)
    show_warnings(workbook)
    console.print(render.header(exercise, workbook.root))
    render.print_hint(console, exercise, workbook.root, level, text)
    if last_again:
        console.print(Text(messages.NO_MORE_HINTS, style="dim"))


@app.command()
def solution(
    ctx: typer.Context,
    exercise_id: Annotated[str, typer.Argument(help="Exercise id or a unique part of it.")],
    force: Annotated[bool, typer.Option(help="Peek before passing (recorded).")] = False,
    yes: YesOpt = False,
) -> None:
    """Show the reference solution once the exercise passes."""
    workbook = open_workbook(ctx)
    exercise = resolve(workbook, exercise_id, workbook.store.read())
    if workbook.catalog.student_edition:
        fail(messages.SOLUTION_FROM_INSTRUCTOR, EXIT_NOT_PASSED)
    if workbook.store.read().of(exercise.id).status != "done":
        if not force:
            fail(messages.SOLUTION_LOCKED.format(id=exercise.id), EXIT_NOT_PASSED)
        confirm(messages.SOLUTION_PEEK_CONFIRM, yes, messages.SOLUTION_PEEK_NEEDS_YES)
        with workbook.store.update() as state:
            state.of(exercise.id).peeked = True
    from rich.syntax import Syntax

    path = exercise.solution(workbook.root)
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    for file in files:
        console.print(render.link(file, workbook.root))
        console.print(Syntax(file.read_text(encoding="utf-8"), "python", line_numbers=True))


def confirm(question: str, yes: bool, needs_yes: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        fail(needs_yes)
    if not typer.confirm(question, default=False):
        raise typer.Exit(EXIT_NOT_PASSED)


@app.command()
def reset(
    ctx: typer.Context,
    exercise_id: IdArg = None,
    all_exercises: Annotated[bool, typer.Option("--all", help="Reset every exercise.")] = False,
    yes: YesOpt = False,
) -> None:
    """Restore pristine stubs (asks first)."""
    if all_exercises == (exercise_id is not None):
        fail("give an exercise id or --all (not both)")
    workbook = open_workbook(ctx)
    chosen = (
        workbook.catalog.exercises
        if all_exercises
        else [resolve(workbook, exercise_id, workbook.store.read())]
    )
    what = "every exercise" if all_exercises else chosen[0].id
    confirm(messages.RESET_CONFIRM.format(what=what), yes, messages.RESET_NEEDS_YES)
    for exercise in chosen:
        path = exercise.stub(workbook.root).relative_to(workbook.root)
        if pristine.restore(workbook.catalog, exercise):
            console.print(messages.RESET_DONE.format(path=path))
        else:
            errors.print(messages.RESET_NO_PRISTINE.format(path=path))
    with workbook.store.update() as state:
        for exercise in chosen:
            state.of(exercise.id).status = "pending"


@app.command()
def skip(ctx: typer.Context, exercise_id: IdArg = None) -> None:
    """Mark an exercise as skipped and move on (check it any time to finish it)."""
    workbook = open_workbook(ctx)
    with workbook.store.update() as state:
        exercise = resolve(workbook, exercise_id, state)
        if state.of(exercise.id).status != "done":
            state.of(exercise.id).status = "skipped"
        if state.current == exercise.id:
            state.current = None
    console.print(messages.SKIPPED.format(id=exercise.id))


@app.command()
def watch(
    ctx: typer.Context,
    manual: Annotated[
        bool, typer.Option("--manual", help="Check when you press Enter instead of on save.")
    ] = False,
    poll: Annotated[
        bool, typer.Option("--poll", help="Poll for changes instead of using file events.")
    ] = False,
    edit_cmd: Annotated[
        str | None,
        typer.Option(help="Command that opens a file in your editor, e.g. 'code -r'."),
    ] = None,
    event_log: Annotated[Path | None, typer.Option(hidden=True)] = None,
    cold: Annotated[bool, typer.Option(hidden=True)] = False,
) -> None:
    """Re-grade the current exercise on every save; keys to move around."""
    from workbook.watch import Options, Watch

    workbook = open_workbook(ctx)
    show_warnings(workbook)
    options = Options(
        manual=manual, polling=poll, edit_cmd=edit_cmd, event_log=event_log, warm=not cold
    )
    session = Watch(workbook.catalog, workbook.store, console, options)
    session.start()
    raise typer.Exit(session.run())


@app.command()
def report(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write it.")
    ] = None,
    report_format: Annotated[
        str, typer.Option("--format", help="html (one self-contained page) or json.")
    ] = "html",
) -> None:
    """Write your progress as one self-contained HTML page (or JSON, to stdout unless -o)."""
    from workbook import report as report_module

    if report_format not in ("html", "json"):
        fail("--format must be 'html' or 'json'")
    workbook = open_workbook(ctx)
    data = report_module.data(workbook.catalog, workbook.store.read())
    text = report_module.to_html(data) if report_format == "html" else report_module.to_json(data)
    if report_format == "json" and output is None:  # JSON is for scripts: straight to stdout
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    path = output or workbook.root / ".workbook" / f"report.{report_format}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    console.print(Text("Wrote ") + render.link(path.resolve(), workbook.root))


@app.command()
def docs(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 to serve the site on.")] = 8000,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the lesson in your browser.")
    ] = True,
) -> None:
    """Serve the lessons site locally and open the lesson of the current exercise."""
    from workbook import site

    workbook = open_workbook(ctx)
    exercise = current_exercise(workbook.catalog, workbook.store.read())
    raise typer.Exit(site.serve(workbook.catalog, exercise, port, open_browser, console))


@app.command()
def verify(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None, typer.Argument(help="Exercises or modules to verify (default: all).")
    ] = None,
    as_json: JsonOpt = False,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Runs at once (default: one per core).")
    ] = None,
) -> None:
    """Author check: solutions pass; stubs, known-wrong variants and mutants fail."""
    try:
        from workbook import verify as verify_module
    except ImportError as exc:  # the mutation tools come with the authors' dependencies
        fail(messages.VERIFY_NEEDS_TOOLS.format(missing=exc.name))

    workbook = open_workbook(ctx)
    authors_only(workbook, "verify")
    chosen = None
    if ids:
        state = workbook.store.read()
        chosen = exercises_named(workbook, ids, state)
    with render.verify_progress(errors, enabled=not as_json) as progress:
        report = verify_module.verify(
            workbook.catalog, chosen, workers=jobs, progress=progress, whole_workbook=not ids
        )
    if report.ok and not ids:  # the release gate trusts a green verify of everything
        from workbook import release

        release.record_verified(workbook.root)
    if as_json:
        print_json(report.to_json())
    else:
        render.verify_report(console, report)
    raise typer.Exit(0 if report.ok else EXIT_NOT_PASSED)


def authors_only(workbook: Workbook, command: str) -> None:
    if workbook.catalog.student_edition:
        fail(messages.AUTHORS_ONLY.format(command=command))


@app.command()
def release(
    ctx: typer.Context,
    destination: Annotated[Path, typer.Argument(help="A new folder for the student edition.")],
) -> None:
    """Write the student edition: stubs, lessons, notebooks, public checks; nothing hidden."""
    from workbook import release as release_module

    workbook = open_workbook(ctx)
    authors_only(workbook, "release")
    try:
        files = release_module.write(workbook.catalog, destination)
    except release_module.ReleaseError as exc:
        errors.print(Text(messages.RELEASE_REFUSED, style="bold red"))
        for problem in exc.problems:
            errors.print(Text(f"  {problem}", style="red"))
        raise typer.Exit(EXIT_NOT_PASSED) from None
    console.print(messages.RELEASE_DONE.format(path=destination, count=len(files)))


@app.command()
def grade(
    ctx: typer.Context,
    submissions: Annotated[
        list[str], typer.Argument(help="Student checkouts: folders, .zip files or git URLs.")
    ],
    report_format: Annotated[
        str,
        typer.Option("--format", help="json, gradescope, junit, github-classroom or csv."),
    ] = "json",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write; a folder for per-submission formats."),
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Runs at once (default: one per core).")
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(help="Release manifest to compare locked files with (default: the kept one)."),
    ] = None,
    trust: Annotated[
        bool, typer.Option("--trust", help="Score flagged exercises too (they are still listed).")
    ] = False,
    run_as: Annotated[
        str | None,
        typer.Option(
            "--run-as",
            metavar="ACCOUNT",
            help="Run learner code as this unprivileged account (needs root).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Grade student submissions with this workbook's own suites (instructors)."""
    from workbook import classroom, gradebook

    report_format = "json" if as_json else report_format
    if report_format not in gradebook.FORMATS:
        fail(messages.GRADE_FORMATS.format(formats=", ".join(gradebook.FORMATS)))
    several = report_format in gradebook.PER_SUBMISSION and len(submissions) > 1
    if several and output is None:
        fail(messages.GRADE_USAGE_OUTPUT.format(format=report_format))
    if manifest is not None and not manifest.is_file():
        fail(f"{manifest}: no such manifest")
    workbook = open_workbook(ctx)
    authors_only(workbook, "grade")
    chosen = classroom.manifest_for(workbook.root, manifest)
    enabled = not as_json
    try:
        with render.verify_progress(errors, enabled, messages.GRADE_RUNNING) as progress:
            batch = classroom.grade(
                workbook.catalog, submissions, manifest=chosen, trust=trust, workers=jobs,
                progress=progress, run_as=run_as,
            )  # fmt: skip
    except classroom.SetupError as exc:
        fail(str(exc))
    for warning in batch.warnings:
        errors.print(Text(f"warning: {warning}", style="yellow"))
    gradebook.write(batch, report_format, output)
    if not as_json:
        render.grade_summary(errors, batch)
    for problem in batch.problems:
        errors.print(Text(problem, style="bold red"))
    if batch.problems:
        raise typer.Exit(EXIT_GRADER)
    raise typer.Exit(EXIT_NOT_PASSED if any(s.needs_attention for s in batch.submissions) else 0)


def main() -> None:
    """Run the CLI; an unexpected error is reported as the grader's, never as a traceback."""
    try:
        app()
    except Exception as exc:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        report_crash(exc)
        sys.exit(EXIT_GRADER)


def report_crash(exc: Exception) -> None:
    errors.print(Text(messages.GRADER_FAILED, style="bold red"))
    errors.print(f"{type(exc).__name__}: {exc} (set {DEBUG_VARIABLE}=1 for the traceback)")


@app.command("class-report")
def class_report_command(
    results: Annotated[
        list[Path], typer.Argument(help="What `workbook grade --format json` wrote (one or more).")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="The page (default: class-report.html beside RESULTS)."
        ),
    ] = None,
    title: Annotated[str, typer.Option(help="The page's title.")] = "Class report",
    progress: Annotated[
        bool, typer.Option(help="Show hints used and solutions peeked where progress came along.")
    ] = True,
    anonymous: Annotated[
        bool, typer.Option("--anonymous", help="Name submissions 'student 1', 'student 2'...")
    ] = False,
) -> None:
    """A graded batch as one self-contained HTML page for the instructor."""
    from workbook import class_page, class_report

    try:
        data = class_report.load(results, progress=progress, anonymous=anonymous)
    except class_report.ClassReportError as exc:
        fail(str(exc))
    path = output or results[0].parent / "class-report.html"
    class_report.write_private(path, class_page.to_html(data, title))
    console.print(Text(f"Wrote {path} ({len(data.students)} submissions)"))


@app.command("autograder")
def autograder_command(
    ctx: typer.Context,
    destination: Annotated[Path, typer.Argument(help="A new folder, outside the workbook.")],
    platform: Annotated[str, typer.Option(help="gradescope, github-classroom or both.")] = "both",
) -> None:
    """Write the grader for Gradescope and GitHub Classroom (instructors: keep it private)."""
    from workbook import autograder

    workbook = open_workbook(ctx)
    authors_only(workbook, "autograder")
    try:
        bundle = autograder.write(workbook.catalog, destination, platform)
    except autograder.AutograderError as exc:
        for problem in exc.problems:
            errors.print(Text(problem, style="red"))
        raise typer.Exit(EXIT_USAGE) from None
    for warning in bundle.warnings:
        errors.print(Text(f"warning: {warning}", style="yellow"))
    console.print(f"Wrote the autograder to {destination}: " + ", ".join(bundle.written))
