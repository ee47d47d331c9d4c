"""Set up the workbook's environment, then start the workbook or run the test suite.

    python3 bootstrap.py start [workbook arguments]   # learners: set up, then `workbook watch`
    python3 bootstrap.py test [pytest arguments]      # authors and CI: the whole test suite

Needs only Python 3.11+.  Creates (or reuses) `.venv/` beside this file, installs the
pinned `uv` into it, and syncs the locked dependencies with `uv sync --frozen`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

UV_VERSION = "0.13.9"
ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
EXE = ".exe" if os.name == "nt" else ""
GROUPS = {
    "start": ["--group", "notebooks", "--group", "docs"],
    "test": ["--all-groups"],
}
USAGE = __doc__.split("\n\n")[1]


def say(message: str) -> None:
    print(f"[bootstrap] {message}", flush=True)


def run(command: list[str], **kwargs: object) -> None:
    result = subprocess.run(command, cwd=ROOT, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        say(f"failed: {' '.join(command)}")
        sys.exit(result.returncode)


def uv_version() -> str | None:
    try:
        done = subprocess.run(
            [str(BIN / f"uv{EXE}"), "--version"], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout.split()[1] if done.returncode == 0 and done.stdout else None


def ensure_environment(mode: str) -> None:
    python = BIN / f"python{EXE}"
    if not python.exists():
        say(f"creating {VENV.name}/ with Python {sys.version.split()[0]}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    if uv_version() != UV_VERSION:
        say(f"installing uv {UV_VERSION} into {VENV.name}/")
        run([str(python), "-m", "ensurepip", "--upgrade"], capture_output=True)
        run([str(python), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"])
    say("syncing the locked dependencies")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": str(VENV)}
    command = [str(BIN / f"uv{EXE}"), "sync", "--frozen", "--quiet", "--python", str(python)]
    run([*command, *GROUPS[mode]], env=env)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in GROUPS:
        print(USAGE)
        return 2
    mode, rest = argv[0], argv[1:]
    ensure_environment(mode)
    if mode == "start":
        # in a terminal the workbook starts in watch mode; anywhere else it reports progress
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        command = [str(BIN / f"workbook{EXE}"), *(rest or (["watch"] if interactive else []))]
        env = dict(os.environ)
    else:
        # worksteal: an idle worker takes queued checks from a busy one (see tests/conftest.py)
        xdist = ["-p", "xdist", "-n", "auto", "--dist", "worksteal"]
        command = [str(BIN / f"python{EXE}"), "-m", "pytest", *xdist, *rest]
        env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
