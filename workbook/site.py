"""``workbook docs``: the lessons site served locally, opened at the current lesson."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path

from rich.console import Console
from rich.text import Text

from workbook import messages
from workbook.catalog import Catalog, Exercise

STARTUP_TIMEOUT_S = 180.0  # the first build runs every notebook


def page_url(base: str, exercise: Exercise | None) -> str:
    """Where a lesson (and its exercise's section) lives on the site."""
    if exercise is None:
        return base
    page = Path(exercise.lesson).relative_to("lessons").with_suffix("").as_posix()
    return f"{base}{page}/#{exercise.section}"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def serve(
    catalog: Catalog, exercise: Exercise | None, port: int, open_browser: bool, console: Console
) -> int:
    """Run ``mkdocs serve`` until interrupted; return its exit code."""
    base = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "mkdocs", "serve", "--dev-addr", f"127.0.0.1:{port}"]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    console.print(Text(messages.DOCS_BUILDING, style="dim"))
    server = subprocess.Popen(command, cwd=catalog.root, env=env)
    # a polite kill (SIGTERM, a closed terminal) stops the server too, never orphans it
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, _exit_on_signal)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _answers(base):
            if server.poll() is not None:
                console.print(Text(messages.DOCS_FAILED, style="red"))
                return server.returncode or 1
            if time.monotonic() > deadline:
                console.print(Text(messages.DOCS_FAILED, style="red"))
                return 1
            time.sleep(0.25)
        url = page_url(base, exercise)
        console.print(Text(messages.DOCS_SERVING.format(url=url), style="bold"))
        if open_browser:
            webbrowser.open(url)
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
