"""Child side of a grading run: classify each test's outcome and stream it to the parent.

Events are signed JSON lines (see :mod:`workbook.channel`) on a socket the parent owns:
``collected`` (sent before any learner code runs), ``start`` and ``result`` per test, and
``finish``; ``flag`` and ``tampered`` when :mod:`workbook.guard` sees learner code reach
into the grader.  The parent trusts nothing else: a test that never reports, a run that
never finishes, or a line it cannot verify is not a pass.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import threading
import time
import traceback
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from workbook import channel, loader, plugin
from workbook.guard import Guard
from workbook.testing import AppStartError, Failure

OUTPUT_CAP = 2000
MESSAGE_LINES = 12
TIMEOUT_PREFIX = "Timeout (>"


def requirement(item: pytest.Item) -> str:
    """The test's docstring, in one line, with parameters filled in."""
    function = getattr(item, "function", None)
    doc = " ".join((getattr(function, "__doc__", None) or "").split())
    text = doc or item.name
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return text
    if "{" in text:
        try:
            return text.format(**callspec.params)
        except (KeyError, IndexError, ValueError):
            pass
    return f"{text} ({callspec.id})"


def _learner_line(tb: Any) -> int | None:
    line = None
    while tb is not None:
        filename = Path(tb.tb_frame.f_code.co_filename)
        if any(filename == t or t in filename.parents for t in plugin.TARGETS):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _first_lines(text: str) -> str:
    lines = text.strip().splitlines()
    if len(lines) > MESSAGE_LINES:
        lines = [*lines[:MESSAGE_LINES], "…"]
    return "\n".join(lines)


def classify(exc: BaseException, timeout: float | None) -> dict[str, Any]:
    """Status, message and details for a test that raised ``exc``."""
    line = _learner_line(exc.__traceback__)
    where = {"line": line} if line else {}
    if isinstance(exc, loader.LoadError):
        details = {"line": exc.line, "kind": "import"}
        return {"status": "error", "message": exc.message, "details": details}
    if isinstance(exc, loader.MissingName):
        return {"status": "error", "message": str(exc), "details": where}
    if isinstance(exc, AppStartError):
        message = f"the app did not start: {exc}"
        return {"status": "failed", "message": message, "details": where}
    if isinstance(exc, Failure):
        details = {**exc.details, **where}
        return {"status": "failed", "message": exc.message, "help": exc.help, "details": details}
    if isinstance(exc, pytest.fail.Exception) and str(exc).startswith(TIMEOUT_PREFIX):
        message = f"did not finish within {timeout:g} s: something waits forever or loops"
        return {"status": "timeout", "message": message, "details": where}
    if isinstance(exc, MemoryError):
        return {"status": "crashed", "message": "ran out of memory", "details": where}
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        message = "printed far too much output (the grader's limit stopped it)"
        return {"status": "crashed", "message": message, "details": where}
    if isinstance(exc, AssertionError):
        return {"status": "failed", "message": _first_lines(str(exc)) or "a check failed"}
    message = _first_lines(f"{type(exc).__name__}: {exc}")
    return {"status": "failed", "message": f"your code raised {message}", "details": where}


def _output(report: pytest.TestReport) -> str:
    text = "".join(content for name, content in report.sections if name.startswith("Captured std"))
    return text if len(text) <= OUTPUT_CAP else text[:OUTPUT_CAP] + "\n… output cut"


class ChannelReporter:
    """Registered by the plugin when the runner passes ``--workbook-channel``."""

    def __init__(self, fd: int, key: bytes) -> None:
        self.fd = fd
        self._sign = channel.signer(key)
        self._identity = _identity(fd)
        self._lock = threading.RLock()  # a flag may come from any thread: one line at a time
        self.guard: Guard | None = None
        self.tampered = False
        self.results: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}
        self.blockers: dict[int, tuple[BaseException, str]] = {}
        self.app_failed: str | None = None

    def send(self, event: dict[str, Any]) -> None:
        if _identity(self.fd) != self._identity:
            # the channel was closed or replaced under us: end now, so the parent sees the
            # channel close (a crash) rather than wait on a copy someone else holds
            os._exit(70)
        with self._lock, _whole_lines(), contextlib.suppress(OSError):  # silence is noticed
            data = self._sign(event)
            while data:
                data = data[os.write(self.fd, data) :]

    def flag(self, reason: str, path: str, line: int) -> None:
        """The guard saw learner code reach for the grader (see :mod:`workbook.guard`)."""
        self.send({"event": "flag", "reason": reason, "path": path, "line": line})

    def check_integrity(self) -> None:
        changed = self.guard.changed() if self.guard is not None else None
        if changed is not None and not self.tampered:
            self.tampered = True
            self.send({"event": "tampered", "reason": changed})

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        tests = []
        for item in session.items:
            marker = item.get_closest_marker("stub_may_pass")
            tests.append(
                {
                    "id": item.nodeid,
                    "name": item.name,
                    "requirement": requirement(item),
                    "stub_may_pass": (marker.args[0] if marker and marker.args else None),
                }
            )
        if self.guard is not None:  # no learner code has run yet: this is the grader as shipped
            self.guard.take_snapshot()
        self.send({"event": "collected", "tests": tests})

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.send({"event": "collect_error", "message": str(report.longrepr)[-4000:]})

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.started[nodeid] = time.monotonic()
        self.send({"event": "start", "id": nodeid})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        if call.excinfo is not None and isinstance(call.excinfo.value, MemoryError):
            traceback.clear_frames(call.excinfo.tb)  # free the hog so the report can be built
        report = yield
        if call.excinfo is not None and report.outcome != "skipped":
            report.workbook = self._judge(item, call.excinfo.value, call.when)  # type: ignore[attr-defined]
        return report

    def _judge(self, item: pytest.Item, exc: BaseException, when: str) -> dict[str, Any]:
        if isinstance(exc, plugin.GraderProblem):
            self.send({"event": "grader_error", "message": str(exc)})
            return {"status": "error", "message": str(exc)}
        first = self.blockers[id(exc)][1] if id(exc) in self.blockers else None
        if first is None and isinstance(exc, AppStartError):
            first = self.app_failed
        if first is not None:
            return {"status": "skipped", "message": f"not checked: “{first}” failed first"}
        marker = item.get_closest_marker("timeout")
        timeout = marker.args[0] if marker and marker.args else item.config.getoption("timeout")
        verdict = classify(exc, timeout)
        if when == "setup":
            self.blockers[id(exc)] = (exc, requirement(item))
        if isinstance(exc, AppStartError):
            self.app_failed = requirement(item)
        if when == "teardown":
            verdict["message"] = f"after the check, cleaning up failed: {verdict['message']}"
        return verdict

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = self.results.setdefault(report.nodeid, {"status": "passed", "message": ""})
        if report.outcome == "skipped" and result["status"] == "passed":
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            result.update(status="skipped", message=re.sub(r"^Skipped: ", "", str(reason)))
        elif report.failed and result["status"] in ("passed", "skipped"):
            result.update(getattr(report, "workbook", None) or {"status": "failed"})
            result["output"] = _output(report)
        if report.when == "teardown":
            self.check_integrity()
            started = self.started.pop(report.nodeid, time.monotonic())
            result["duration_s"] = round(time.monotonic() - started, 3)
            self.send({"event": "result", "id": report.nodeid, **result})

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.check_integrity()
        self.send({"event": "finish"})


@contextlib.contextmanager
def _whole_lines() -> Generator[None, None, None]:
    """Hold off pytest-timeout's alarm while a line is written: half a line would read as
    a forged one."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _identity(fd: int) -> tuple[int, int] | None:
    try:
        stat = os.fstat(fd)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
