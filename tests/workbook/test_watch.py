"""Watch mode, driven through its event API and, end to end, through a pseudo-terminal."""

import io
import json
import os
import pty
import queue
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from workbook import catalog, state
from workbook import pristine as pristine_copies
from workbook.watch import Options, Watch

GREETING = "exercises/01_basics/01_greeting.py"
SOLVED = (
    'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/")\n'
    'async def greet():\n    return {"hello": "world"}\n'
)
HANGS = "while True:\n    pass\n"
WAIT_S = 60


def events(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def kinds(log: Path) -> list[str]:
    return [event["event"] for event in events(log)]


@pytest.fixture
def check_timeout() -> int:
    """The sample's per-check limit; a test that hangs on purpose parametrizes a short one."""
    return 30


@pytest.fixture
def session(sample: Path, launcher, check_timeout: int) -> Watch:
    """A watch session on the sample, without threads of its own: the test is the loop."""
    path = sample / "curriculum.toml"
    path.write_text(path.read_text().replace("timeout = 30", f"timeout = {check_timeout}"))
    options = Options(event_log=sample / "events.log")
    watch = Watch(catalog.load(sample), state.Store(sample), Console(file=io.StringIO()), options)
    watch.launcher = launcher
    yield watch
    watch.quitting = True
    if watch.worker is not None:
        watch.worker.join(WAIT_S)


def next_event(watch: Watch) -> None:
    """Let the session handle the next event it receives (a finished run, here)."""
    watch.handle(*watch.events.get(timeout=WAIT_S))


def test_a_save_of_the_current_exercise_is_graded(session, sample):
    session.request_check()
    next_event(session)
    assert session.result.status == "failed"
    (sample / GREETING).write_text(SOLVED)
    session.handle("saved", {sample / GREETING})
    next_event(session)
    assert session.result.status == "passed"
    assert state.Store(sample).read().of("01_basics/01_greeting").status == "done"
    assert kinds(sample / "events.log") == ["checking", "verdict", "saved", "checking", "verdict"]


def test_saves_during_a_run_queue_exactly_one_rerun(session, sample):
    session.request_check()
    for _ in range(3):  # the run has not been handled as done yet: it is still running
        session.handle("saved", {sample / GREETING})
    next_event(session)  # the first run ends; the one rerun starts
    assert session.busy
    next_event(session)  # the rerun ends
    assert not session.busy
    assert kinds(sample / "events.log").count("checking") == 2
    with pytest.raises(queue.Empty):
        session.events.get(timeout=1)


def test_saves_of_other_files_are_ignored(session, sample):
    session.handle("saved", {sample / "exercises/01_basics/02_square.py"})
    assert not session.busy


@pytest.mark.parametrize("check_timeout", [3])
def test_a_hung_exercise_gets_its_verdict_and_the_next_save_is_graded(session, sample):
    (sample / GREETING).write_text(HANGS)
    session.request_check()
    next_event(session)
    assert session.result.status == "timeout"
    (sample / GREETING).write_text(SOLVED)
    session.handle("saved", {sample / GREETING})
    next_event(session)
    assert session.result.status == "passed"


def test_keys_reveal_hints_and_move_on_after_a_pass(session, sample):
    session.handle("key", "h")
    assert session.hint == (1, "The body is not the greeting yet.")
    session.handle("key", "h")
    assert session.hint == (2, "Return a dict from the route.")
    (sample / GREETING).write_text(SOLVED)
    session.request_check()
    next_event(session)
    session.handle("key", "n")
    assert session.exercise.id == "01_basics/02_square"
    next_event(session)
    assert session.result.status == "failed"


def test_the_list_continues_at_the_chosen_exercise(session, sample):
    for key in ("l", "/", "s", "q", "u", "enter", "enter"):
        session.handle("key", key)
    assert session.mode == "main"
    assert session.exercise.id == "01_basics/02_square"
    assert state.Store(sample).read().current == "01_basics/02_square"
    next_event(session)


def test_reset_asks_first(session, sample):
    stub = sample / GREETING
    pristine = stub.read_text()
    pristine_copies.save_missing(session.catalog)
    stub.write_text("mine = 1\n")
    session.handle("key", "r")
    session.handle("key", "n")
    assert stub.read_text() == "mine = 1\n"
    session.handle("key", "r")
    session.handle("key", "y")
    assert stub.read_text() == pristine


def test_passing_the_last_exercise_rechecks_all_and_returns_to_a_regression(session, sample):
    with state.Store(sample).update() as progress:
        progress.of("01_basics/01_greeting").status = "done"  # but its file does not pass
    session.exercise = session.catalog.find("02_square")[0]
    square = sample / "exercises/01_basics/02_square.py"
    square.write_text((sample / "solutions/01_basics/02_square.py").read_text())
    session.request_check()
    next_event(session)  # the last one passes: every exercise is checked again
    next_event(session)  # the final check finds the regression and goes back to it
    assert session.exercise.id == "01_basics/01_greeting"
    assert "no longer pass" in session.notice
    regressed = state.Store(sample).read().of("01_basics/01_greeting")
    assert (regressed.status, regressed.last_result) == ("done", "failed"), "the pass is kept"
    next_event(session)


# -- end to end, in a pseudo-terminal -----------------------------------------------------


def read_until(fd: int, text: str, deadline: float) -> str:
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536).decode("utf-8", "replace")
            except OSError:
                break
            if text in seen:
                return seen
    raise AssertionError(f"never saw {text!r}; the screen showed:\n{seen[-2000:]}")


def marked_processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds leftover processes through /proc")
def test_in_a_terminal_an_edit_is_graded_and_q_quits_leaving_no_process(sample):
    marker = f"WATCH_TEST_{uuid.uuid4().hex}"
    env = {**os.environ, marker: "1", "COLUMNS": "100", "LINES": "40", "TERM": "xterm"}
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "workbook", "--root", str(sample), "watch"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        close_fds=True,
    )
    os.close(secondary)
    try:
        deadline = time.monotonic() + WAIT_S
        read_until(primary, "1 of 2 requirements met", deadline)
        (sample / GREETING).write_text(SOLVED)
        read_until(primary, "2 of 2 requirements met", deadline)
        os.write(primary, b"q")
        assert process.wait(timeout=WAIT_S) == 0
    finally:
        process.kill()
        os.close(primary)
    assert marked_processes(marker) == []


def test_manual_mode_checks_on_enter_only(sample, launcher):
    options = Options(manual=True)
    watch = Watch(catalog.load(sample), state.Store(sample), Console(file=io.StringIO()), options)
    watch.launcher = launcher
    watch.handle("key", "x")
    assert not watch.busy
    watch.handle("key", "enter")
    assert watch.busy
    next_event(watch)
    assert watch.result.status == "failed"


def test_passing_the_last_exercise_shows_its_verdict_then_the_finish(session, sample):
    for name in ("01_greeting", "02_square"):
        solution = (sample / f"solutions/01_basics/{name}.py").read_text()
        (sample / f"exercises/01_basics/{name}.py").write_text(solution)
    with state.Store(sample).update() as progress:
        progress.of("01_basics/01_greeting").status = "done"
    session.exercise = session.catalog.find("02_square")[0]
    session.request_check()
    next_event(session)  # the last one passes: every exercise is checked again
    next_event(session)  # nothing regressed: the finish
    assert session.mode == "final"
    session.console.file.truncate(0)
    session.draw()
    screen = session.console.file.getvalue()
    assert "01_basics/02_square" in screen
    assert "All requirements met" in screen
    assert screen.index("All requirements met") < screen.index("Every exercise")
