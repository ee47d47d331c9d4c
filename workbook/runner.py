"""Parent side of a grading run: one child process per run, and the verdict.

The child runs pytest on one hidden suite under limits and streams signed events back
over a socket this process owns (:mod:`workbook.channel`).  The verdict comes from what
was seen there against the list of tests collected before any learner code ran: a test
that never reported, a child that exited early (even with code 0), was killed or hung, or
a line this process cannot verify, is never a pass.  Afterwards the child's whole process
group, and anything it left behind, is killed.
"""

from __future__ import annotations

import os
import queue
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook import channel, messages
from workbook.launch import (
    CHANNEL_PLACEHOLDER,
    TOKEN_VARIABLE,
    Child,
    ColdLauncher,
    Launcher,
    base_env,
    kill_group,
)

GRADING_CONFIG = Path(__file__).with_name("grading.ini")
PLUGINS = ("workbook", "asyncio", "timeout")
HYPOTHESIS_PLUGIN = "hypothesispytest"
GRACE_S = 3.0
EXIT_WAIT_S = 2.0


@dataclass(frozen=True)
class Limits:
    """How long, how much memory and how much output one run may take."""

    test_timeout: float = 10.0
    run_timeout: float = 120.0
    memory_mb: int = 2048
    files_mb: int = 64
    output_bytes: int = 8 * 1024 * 1024
    output_kept: int = 16 * 1024


@dataclass
class TestOutcome:
    id: str
    name: str
    requirement: str
    stub_may_pass: str | None = None
    status: str = "skipped"
    message: str = ""
    help: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    output: str = ""
    duration_s: float = 0.0


@dataclass
class RunOutcome:
    """What a run showed: per-test outcomes, and how the child itself ended."""

    tests: list[TestOutcome]
    ended: str  # finished | crashed | timeout | internal
    message: str = ""
    output: str = ""
    duration_s: float = 0.0
    flags: list[dict[str, Any]] = field(default_factory=list)
    """What the guard saw learner code do to the grader: {reason, path, line}."""


@dataclass
class _Stream:
    """The child's stdout and stderr: the head is kept, the rest only counted."""

    kept: bytearray = field(default_factory=bytearray)
    total: int = 0

    def text(self) -> str:
        return self.kept.decode("utf-8", "replace")


def child_args(
    suite: Path,
    root: Path,
    limits: Limits,
    target: str | None,
    target_file: Path | None,
    extra: Sequence[str] = (),
) -> list[str]:
    """Arguments of :mod:`workbook.child`: its limits, then pytest's."""
    args = [
        "--memory-mb",
        str(limits.memory_mb),
        "--files-mb",
        str(limits.files_mb),
        str(suite),
        "-c",
        str(GRADING_CONFIG),
        "--rootdir",
        str(root),
        "--noconftest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--assert=plain",
    ]
    # the hypothesis plugin imports all of hypothesis: load it only for suites that use it
    uses_hypothesis = "hypothesis" in suite.read_text(encoding="utf-8")
    for name in (*PLUGINS, HYPOTHESIS_PLUGIN) if uses_hypothesis else PLUGINS:
        args += ["-p", name]
    args += [
        "--timeout",
        f"{limits.test_timeout:g}",
        "--timeout-method",
        "signal",
        "--workbook-channel",
        CHANNEL_PLACEHOLDER,
    ]
    if target is not None:
        args += ["--target", target]
    if target_file is not None:
        args += ["--target-file", str(target_file)]
    return [*args, *extra]


def run(
    suite: Path,
    root: Path,
    limits: Limits = Limits(),
    *,
    target: str | None = None,
    target_file: Path | None = None,
    launcher: Launcher | None = None,
    on_launch: Callable[[Child], None] | None = None,
    stop_first: bool = False,
    extra_args: Sequence[str] = (),
) -> RunOutcome:
    """Grade ``suite`` in a child process and return what it showed.

    ``on_launch`` receives the child as soon as it runs, so that another thread can
    cancel the run by killing it (the run then ends as crashed, never as a pass).
    ``stop_first`` ends the run at the first failing check (the author's gate only needs
    to know that something failed); the checks after it count as skipped.
    """
    started = time.monotonic()
    token = secrets.token_hex(8)
    env = {**base_env(root), TOKEN_VARIABLE: token}
    extra = ["--exitfirst", *extra_args] if stop_first else list(extra_args)
    args = child_args(suite, root, limits, target, target_file, extra)
    channel_read, channel_write, key = channel.pair()
    output_read, output_write = os.pipe()
    try:
        child = _launch(launcher or ColdLauncher(), args, root, env, channel_write, output_write)
    except BaseException:
        for fd in (channel_read, output_read):
            os.close(fd)
        raise
    finally:
        os.close(channel_write)
        os.close(output_write)
    if on_launch is not None:
        on_launch(child)
    try:
        watch = _Watch(child, channel_read, output_read, limits, started, stop_first, key)
        return watch.outcome()
    finally:
        _kill_everything(child, token)


def _launch(
    launcher: Launcher, args: list[str], root: Path, env: dict[str, str], channel: int, output: int
) -> Child:
    from workbook.zygote import ZygoteError

    try:
        return launcher.launch(args, root, env, channel, output)
    except ZygoteError:  # a warm start failed: a cold one still gives a verdict
        return ColdLauncher().launch(args, root, env, channel, output)


class _Watch:
    """Follows one child's events until it finishes, hangs, crashes or floods."""

    def __init__(
        self,
        child: Child,
        events: int,
        output: int,
        limits: Limits,
        started: float,
        stop_first: bool,
        key: bytes,
    ) -> None:
        self.child = child
        self.reader = channel.Reader(key)
        self.flags: list[dict[str, Any]] = []
        self.stop_first = stop_first
        self.limits = limits
        self.started = started
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stream = _Stream()
        self.flooded = threading.Event()
        self.tests: dict[str, TestOutcome] = {}
        self.current: str | None = None
        self.current_since = started
        self.collect_error = ""
        self._threads = [
            threading.Thread(target=self._read_channel, args=(events,), daemon=True),
            threading.Thread(target=self._read_output, args=(output,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_channel(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for line in stream:
                try:
                    self.events.put(self.reader.read(line))
                except channel.Forged:
                    self.events.put({"event": "forged"})
                    return  # nothing after a forged line can be believed
        self.events.put(None)

    def _read_output(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as output:
            while chunk := output.read(65536):
                self._keep(chunk)

    def _keep(self, chunk: bytes) -> None:
        room = self.limits.output_kept - len(self.stream.kept)
        if room > 0:
            self.stream.kept += chunk[:room]
        self.stream.total += len(chunk)
        if self.stream.total > self.limits.output_bytes and not self.flooded.is_set():
            self.flooded.set()
            self.events.put({"event": "flood"})

    def _deadline(self) -> float:
        run_end = self.started + self.limits.run_timeout
        if self.current is None:
            return run_end
        return min(run_end, self.current_since + self.limits.test_timeout + GRACE_S)

    def _events(self) -> Iterator[dict[str, Any] | None]:
        while True:
            wait = self._deadline() - time.monotonic()
            if wait <= 0:
                yield {"event": "deadline"}
                return
            try:
                yield self.events.get(timeout=wait)
            except queue.Empty:
                continue

    def outcome(self) -> RunOutcome:
        ended, message = "crashed", ""
        for event in self._events():
            if event is None:  # the channel closed: the child has gone
                ended, message = "crashed", self._exit_message()
                break
            kind = event.get("event")
            if kind == "collected":
                self._collected(event["tests"])
            elif kind in ("collect_error", "grader_error"):  # the grader's fault, not the file's
                self.collect_error = self.collect_error or str(event.get("message", ""))
            elif kind == "start":
                self.current, self.current_since = event["id"], time.monotonic()
            elif kind == "result":
                self._result(event)
            elif kind == "finish":
                ended = "finished"
                break
            elif kind == "flood":
                ended, message = "crashed", messages.OUTPUT_FLOOD
                break
            elif kind == "flag":
                self._flag(event)
            elif kind in ("forged", "tampered"):
                reason = messages.CHANNEL_FORGED if kind == "forged" else str(event.get("reason"))
                self._flag({"reason": reason})
                ended, message = "crashed", messages.RESULTS_UNTRUSTED.format(reason=reason)
                break
            elif kind == "deadline":
                ended, message = "timeout", self._timeout_message()
                break
        return self._finish(ended, message)

    def _flag(self, event: dict[str, Any]) -> None:
        line = event.get("line")
        flag = {
            "reason": str(event.get("reason") or ""),
            "path": str(event.get("path") or ""),
            "line": line if isinstance(line, int) else 0,
        }
        if flag not in self.flags:
            self.flags.append(flag)

    def _collected(self, tests: list[dict[str, Any]]) -> None:
        for test in tests:
            self.tests[test["id"]] = TestOutcome(
                id=test["id"],
                name=test["name"],
                requirement=test["requirement"],
                stub_may_pass=test.get("stub_may_pass"),
                message=messages.NOT_RUN,
            )

    def _result(self, event: dict[str, Any]) -> None:
        test = self.tests.get(event["id"])
        if test is None:
            return  # a result for a test never collected is not evidence of anything
        test.status = str(event.get("status", "failed"))
        test.message = str(event.get("message") or "")
        test.help = event.get("help")
        test.details = event.get("details") or {}
        test.output = str(event.get("output") or "")
        test.duration_s = float(event.get("duration_s") or 0.0)
        if self.current == event["id"]:
            self.current = None

    def _timeout_message(self) -> str:
        if self.current is not None and self.current in self.tests:
            return messages.TEST_HUNG.format(requirement=self.tests[self.current].requirement)
        return messages.RUN_TIMEOUT.format(seconds=self.limits.run_timeout)

    def _exit_message(self) -> str:
        code = self.child.wait(timeout=EXIT_WAIT_S)
        if code is None:
            return messages.CHANNEL_LOST
        if code < 0:
            name = signal.Signals(-code).name
            return messages.KILLED_BY_SIGNAL.get(name, messages.KILLED).format(signal=name)
        return messages.EXITED_EARLY.format(code=code)

    def _finish(self, ended: str, message: str) -> RunOutcome:
        if ended == "finished" and self.collect_error:
            ended, message = "internal", self.collect_error
        elif ended == "finished" and not self.tests:
            ended, message = "internal", messages.NOTHING_COLLECTED
        if ended != "finished":
            self._mark_unfinished(ended, message)
        elif self.stop_first and self._failed_one():
            self._mark_unfinished(ended, messages.STOPPED_FIRST)
        elif any(test.message == messages.NOT_RUN for test in self.tests.values()):
            ended, message = "crashed", messages.MISSING_RESULTS
            self._mark_unfinished(ended, message)
        return RunOutcome(
            tests=list(self.tests.values()),
            ended=ended,
            message=message,
            output=self.stream.text(),
            duration_s=round(time.monotonic() - self.started, 3),
            flags=self.flags,
        )

    def _failed_one(self) -> bool:
        return any(test.status in ("failed", "error") for test in self.tests.values())

    def _mark_unfinished(self, ended: str, message: str) -> None:
        for test in self.tests.values():
            if test.message != messages.NOT_RUN:
                continue
            if test.id == self.current and ended != "finished":
                test.status, test.message = ended, message
                test.duration_s = round(time.monotonic() - self.current_since, 3)
            else:
                test.status = "skipped"
                if ended == "finished":
                    test.message = message


def _kill_everything(child: Child, token: str) -> None:
    """Kill the child's process group and any process that carries this run's token."""
    child.kill()
    for pid in _processes_with(token):
        kill_group(pid)
    child.wait(EXIT_WAIT_S)


def _processes_with(token: str) -> list[int]:
    """Processes (Linux) whose environment holds this run's token: escapees from the group."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    marker = f"{TOKEN_VARIABLE}={token}".encode()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
