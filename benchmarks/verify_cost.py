"""What the author's check costs, per exercise and for the whole curriculum, on this machine.

    .venv/bin/python benchmarks/verify_cost.py [--jobs N] [--suite] [ID ...]

For each exercise: how many runs `workbook verify` makes (solution, stub, known-wrong
variants, mutants) and how long it takes alone, with one warm zygote and every core.
Then the whole curriculum in one `verify`.  With ``--suite`` it also times the project's
whole test suite (`bootstrap.py test`) and its fixed part (the grader's own tests, which
do not grow with the curriculum), and extrapolates the suite to the full curriculum:

    fixed + (whole - fixed) * FULL_EXERCISES / exercises today

which scales everything else (suites, verify, lessons, notebooks, the site) with the
number of exercises: an upper bound, since the site and browser tests grow more slowly.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from workbook import catalog, verify
from workbook.launch import base_env
from workbook.zygote import Zygote

ROOT = Path(__file__).resolve().parents[1]
FULL_EXERCISES = 90  # nineteen modules of about five exercises, the capstone larger
TARGETS = {"one_exercise_s": 15.0, "suite_at_full_size_min": 20.0}
FIXED_TESTS = ("tests/workbook", "tests/test_project.py")


def per_exercise(loaded: catalog.Catalog, ids: list[str], jobs: int | None) -> list[tuple]:
    chosen = [e for e in loaded.exercises if not ids or any(i in e.id for i in ids)]
    rows = []
    warm = Zygote(base_env(ROOT), eager=True)
    try:
        verify.verify(loaded, chosen[:1], launcher=warm, workers=jobs, whole_workbook=False)
        for exercise in chosen:  # the zygote is warm now: each figure is the exercise's own
            started = time.monotonic()
            report = verify.verify(
                loaded, [exercise], launcher=warm, workers=jobs, whole_workbook=False
            )
            seconds = time.monotonic() - started
            (result,) = report.exercises
            runs = 2 + len(result.known_wrong) + result.mutants.total
            rows.append((exercise.id, runs, result.mutants.total, seconds, report.ok))
    finally:
        warm.close()
    return rows


def timed(command: list[str]) -> tuple[float, int]:
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # as bootstrap.py runs it
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL)
    return time.monotonic() - started, done.returncode


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="exercises to measure (default: every one)")
    parser.add_argument("--jobs", type=int, default=None, help="runs at once (default: cores)")
    parser.add_argument("--suite", action="store_true", help="also time the whole test suite")
    args = parser.parse_args(argv)
    loaded = catalog.load(ROOT)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")  # fmt: skip
    rows = per_exercise(loaded, args.ids, args.jobs)
    print(f"{'exercise':44} {'runs':>5} {'mutants':>8} {'seconds':>8}")
    for exercise_id, runs, mutants, seconds, ok in rows:
        flag = "" if ok else "  (does not verify)"
        print(f"{exercise_id:44} {runs:5} {mutants:8} {seconds:8.1f}{flag}")
    slowest = max(seconds for *_, seconds, _ok in rows)
    mean = sum(seconds for *_, seconds, _ok in rows) / len(rows)
    print(f"mean {mean:.1f} s, slowest {slowest:.1f} s "
          f"(target: one exercise under {TARGETS['one_exercise_s']:g} s)")  # fmt: skip
    if args.ids:
        return 0
    started = time.monotonic()
    report = verify.verify(loaded, workers=args.jobs)
    print(f"whole curriculum ({len(loaded.exercises)} exercises): "
          f"{time.monotonic() - started:.1f} s, ok={report.ok}")  # fmt: skip
    if args.suite:
        python = [sys.executable, "-m", "pytest", "-p", "xdist", "-n", "auto", "-q"]
        whole, code = timed([sys.executable, "bootstrap.py", "test", "-q"])
        fixed, _ = timed([*python, *FIXED_TESTS])
        scale = FULL_EXERCISES / len(loaded.exercises)
        full = fixed + (whole - fixed) * scale
        print(f"test suite now: {whole / 60:.1f} min (exit {code}), of which fixed "
              f"{fixed / 60:.1f} min; at {FULL_EXERCISES} exercises: {full / 60:.1f} min "
              f"(target under {TARGETS['suite_at_full_size_min']:g} min)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
