"""``workbook check``: grade one exercise, record the attempt, show the verdict.

It starts the grading child before importing anything to draw with, so the child's
imports and the parent's overlap: a cold check costs little more than the child.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

from workbook import grading, messages
from workbook.launch import Launcher
from workbook.progress import Recorded, current_exercise, done_count, record
from workbook.workspace import UsageError, open_workbook, resolve

EXIT_PASSED, EXIT_NOT_PASSED, EXIT_USAGE, EXIT_GRADER = 0, 1, 2, 3
TARGETS = ("exercises", "solutions")


class _Background:
    """A grading run on a thread of its own."""

    def __init__(self, run: Any) -> None:
        self.result: grading.CheckResult | grading.GraderError | None = None
        self.thread = threading.Thread(target=self._run, args=(run,), daemon=True)
        self.thread.start()

    def _run(self, run: Any) -> None:
        try:
            self.result = run()
        except grading.GraderError as exc:
            self.result = exc

    def wait(self) -> grading.CheckResult:
        self.thread.join()
        if isinstance(self.result, grading.GraderError):
            raise self.result
        assert self.result is not None
        return self.result


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def check(
    root: Path | None,
    fragment: str | None,
    target: str,
    as_json: bool,
    launcher: Launcher | None = None,
) -> int:
    """Run the command; return its exit code (0 passed, 1 not, 2 usage, 3 grader)."""
    try:
        if target not in TARGETS:
            raise UsageError("--target must be 'exercises' or 'solutions'")
        workbook = open_workbook(root)
        exercise = resolve(workbook, fragment, workbook.store.read())
    except UsageError as exc:
        _say(exc.message, "red" if exc.code else "")
        return exc.code
    run = _Background(
        lambda: grading.check(workbook.catalog, exercise, target=target, launcher=launcher)
    )
    from workbook import render  # rich's drawing code loads while the child works

    console = render.console()
    try:
        result = run.wait()
    except grading.GraderError as exc:
        if as_json:
            print_json({"schema_version": grading.SCHEMA_VERSION, "exercise": exercise.id,
                        "status": "error", "grader_error": str(exc)})  # fmt: skip
        else:
            _say(messages.GRADER_FAILED, "bold red")
            _say(str(exc), "")
        return EXIT_GRADER
    recorded = record(workbook.store, exercise, result) if target == "exercises" else Recorded()
    for warning in workbook.store.warnings:
        _say(f"warning: {warning}", "yellow")
    if as_json:
        result.hint = recorded.hint[1] if recorded.hint else ""
        result.extra["passed_before"] = recorded.regressed
        print_json(result.to_json())
    else:
        render.check_result(console, result, exercise, workbook.root, recorded)
        state = workbook.store.read()
        total = len(workbook.catalog.exercises)
        console.print(render.progress_bar(done_count(workbook.catalog, state), total))
        following = current_exercise(workbook.catalog, state)
        if result.passed and following is None:
            console.print()
            console.print(workbook.catalog.final_message)
        elif result.passed and fragment is None:  # a bare `check` grades another one next
            assert following is not None
            console.print(messages.CHECKED_THEN_NEXT.format(done=exercise.id, id=following.id))
    return EXIT_PASSED if result.passed else EXIT_NOT_PASSED


def _say(message: str, style: str) -> None:
    """A line on stderr (imported late: most checks never need it)."""
    from rich.text import Text

    from workbook import render

    render.console(stderr=True).print(Text(message, style=style))
