"""How long a learner waits for a verdict, measured on this machine.

    .venv/bin/python benchmarks/feedback_latency.py [--runs 7] [--exercise ID]

Medians over several runs, interleaved so that a busy moment hurts every kind alike:
  (a) plain `python -m pytest <suite>`, as a learner would type it;
  (b) a cold `workbook check <id>`;
  (c) watch mode, from saving the file to the verdict being recorded;
  (d) the floor, `python -c "import fastapi, httpx, pytest"`.
It works on a temporary copy of the workbook, so the learner's files are never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbook.state import State, Store

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COPIED = ("curriculum.toml", "pyproject.toml", "exercises", "solutions", "tests", "lessons",
          "notebooks")  # fmt: skip
TARGETS = {"c_max_s": 0.4, "a_over_c_min": 10.0, "b_over_d_max": 1.3}
WATCH_TIMEOUT_S = 60.0


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def copy_workbook(into: Path) -> Path:
    root = into / "workbook"
    root.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    return root


def verdicts(log: Path) -> list[float]:
    if not log.exists():
        return []
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [event["t"] for event in events if event["event"] == "verdict"]


def wait_for_verdict(log: Path, count: int) -> float:
    deadline = time.monotonic() + WATCH_TIMEOUT_S
    while time.monotonic() < deadline:
        seen = verdicts(log)
        if len(seen) >= count:
            return seen[count - 1]
        time.sleep(0.005)
    raise SystemExit("watch mode gave no verdict in time")


def measure_watch(root: Path, exercise_id: str, runs: int) -> list[float]:
    """Save the exercise file, then read when watch recorded the verdict."""
    log = root / ".workbook" / "events.log"
    log.parent.mkdir(exist_ok=True)
    stub = root / "exercises" / f"{exercise_id}.py"
    Store(root).write(State(current=exercise_id))  # fresh progress, this exercise current
    watch = subprocess.Popen(
        [str(BIN / "workbook"), "--root", str(root), "watch", "--event-log", str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_verdict(log, 1)  # the first check, as watch starts
        time.sleep(2.5)  # let the file-event probe finish before timing saves
        latencies = []
        source = stub.read_text()
        for run in range(runs):
            saved = time.time()
            stub.write_text(source + f"\n# save {run}\n")
            latencies.append(wait_for_verdict(log, run + 2) - saved)
            time.sleep(0.3)  # a learner does not save twice within a blink
        return latencies
    finally:
        assert watch.stdin is not None
        watch.stdin.write(b"q")
        watch.stdin.close()
        watch.wait(timeout=WATCH_TIMEOUT_S)


def machine() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    python = platform.python_version()
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores, {model}, {system}, Python {python}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--exercise", default="01_async_foundations/01_unblock_the_loop")
    args = parser.parse_args()
    module, name = args.exercise.split("/")
    with tempfile.TemporaryDirectory() as folder:
        root = copy_workbook(Path(folder))
        # the learner has solved it: every kind then runs the whole suite, no check waits
        solution = root / "solutions" / f"{args.exercise}.py"
        shutil.copy2(solution, root / "exercises" / f"{args.exercise}.py")
        suite = f"tests/{module}/test_{name}.py"
        kinds = {
            "a": [str(BIN / "python"), "-m", "pytest", "-q", suite],
            "b": [str(BIN / "workbook"), "check", args.exercise],
            "d": [str(BIN / "python"), "-c", "import fastapi, httpx, pytest"],
        }
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for command in kinds.values():  # warm the disk cache once
            timed(command, root)
        for _ in range(args.runs):
            for kind, command in kinds.items():
                times[kind].append(timed(command, root))
        times["c"] = measure_watch(root, args.exercise, args.runs)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    a, b, c, d = (medians[k] for k in "abcd")
    print(f"machine: {machine()}")
    print(f"exercise: {args.exercise}; medians of {args.runs} runs")
    print(f"  (a) python -m pytest <suite>       {a:6.3f} s")
    print(f"  (b) workbook check (cold)          {b:6.3f} s")
    print(f"  (c) watch: save to verdict         {c:6.3f} s")
    print(f"  (d) import fastapi, httpx, pytest  {d:6.3f} s")
    checks = [
        (f"(c) at most {TARGETS['c_max_s']} s", c <= TARGETS["c_max_s"], f"{c:.3f} s"),
        (f"(a)/(c) at least {TARGETS['a_over_c_min']:g}x", a / c >= TARGETS["a_over_c_min"],
         f"{a / c:.1f}x"),
        (f"(b)/(d) at most {TARGETS['b_over_d_max']}x", b / d <= TARGETS["b_over_d_max"],
         f"{b / d:.2f}x"),
    ]  # fmt: skip
    for label, met, value in checks:
        print(f"  {'✓' if met else '✗'} {label}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
