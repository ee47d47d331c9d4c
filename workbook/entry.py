"""The ``workbook`` command's entry point.

The plain forms of ``check`` (``[--root DIR] check [ID] [--json] [--target T]``) go
straight to :mod:`workbook.checking`, which starts grading before it imports anything
heavy; every other command, and anything unusual, goes through the full CLI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def plain_check(argv: list[str]) -> tuple[Path | None, str | None, str, bool] | None:
    """(root, exercise fragment, target, json) for a plain ``check``, else None."""
    root: Path | None = None
    if argv[:1] == ["--root"] and len(argv) > 1:
        root, argv = Path(argv[1]), argv[2:]
    if argv[:1] != ["check"]:
        return None
    fragment, target, as_json, rest = None, "exercises", False, argv[1:]
    while rest:
        word, rest = rest[0], rest[1:]
        if word == "--json":
            as_json = True
        elif word == "--target" and rest:
            target, rest = rest[0], rest[1:]
        elif not word.startswith("-") and fragment is None:
            fragment = word
        else:
            return None
    return root, fragment, target, as_json


def main() -> None:
    parsed = plain_check(sys.argv[1:])
    if parsed is None:
        from workbook import cli

        cli.main()
        return
    from workbook.launch import base_env
    from workbook.zygote import Primed

    # the child starts importing FastAPI and pytest while this process finds its job
    primed = Primed(base_env(Path.cwd()))
    from workbook import checking

    code = checking.EXIT_GRADER
    try:
        code = checking.check(*parsed, launcher=primed)
    except Exception as exc:  # never a traceback of the grader's own
        if os.environ.get("WORKBOOK_DEBUG"):
            raise
        from workbook import cli

        cli.report_crash(exc)
    finally:
        primed.close()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)  # all is written and saved: skip tearing the interpreter down
