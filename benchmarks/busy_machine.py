"""Run the whole test suite while the machine is busy: no verdict may depend on its speed.

    python3 benchmarks/busy_machine.py [--per-core 2] [pytest arguments]

Starts ``--per-core`` busy-loop processes for every core, runs ``python3 bootstrap.py
test`` beside them, then stops them, and exits with the test run's exit code.  Only the
hang cases may depend on time at all, and they carry bounds with wide margins.
Needs nothing beyond the Python that runs it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPIN = "while True:\n    pass\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-core", type=int, default=2, help="busy loops per core")
    args, pytest_args = parser.parse_known_args(argv)
    cores = os.cpu_count() or 1
    loops = [
        subprocess.Popen([sys.executable, "-c", SPIN], start_new_session=True)
        for _ in range(args.per_core * cores)
    ]
    print(f"[busy] {len(loops)} busy loops on {cores} cores; running the test suite", flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "bootstrap.py", "test", *pytest_args], cwd=ROOT, check=False
        )
    finally:
        for loop in loops:
            os.killpg(loop.pid, signal.SIGKILL)
            loop.wait()
    minutes = (time.monotonic() - started) / 60
    verdict = "passed" if done.returncode == 0 else f"failed (exit {done.returncode})"
    print(f"[busy] the suite {verdict} in {minutes:.1f} min beside {len(loops)} busy loops")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
