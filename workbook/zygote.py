"""Children that import the stack before they know their job.

The zygote (watch mode) is a thread-free process that has imported the stack and forks
one child per run.  A primed child (a cold ``workbook check``) is spawned before the
command has even read the catalog, imports the stack meanwhile, and runs the one job it
is then handed, itself.

A cold grading child spends most of its life importing FastAPI, Pydantic, httpx, pytest and
the plugins.  The zygote pays that once; each run is then a ``fork()`` whose child sets its
limits and runs pytest exactly as a cold child would.  The parent passes the child's
channel and output pipes over a Unix socket, and the zygote reports each child's pid and,
once reaped, its exit status.  Where ``fork`` is unavailable the runner stays cold.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import selectors
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook.launch import CHANNEL_PLACEHOLDER, Account, Child, ColdChild, kill_group

# what every grading child imports on its way to the first test
ESSENTIAL = (
    "fastapi",
    "pydantic",
    "httpx",
    "anyio",
    "asgi_lifespan",
    "pytest",
    "pytest_asyncio.plugin",
    "pytest_timeout",
    "workbook.child",
    "workbook.plugin",
    "workbook.reporting",
    "workbook.testing",
)
# and what many need too (python -X importtime tells): worth it where it is paid once
PRELOAD = (
    "fastapi",
    "fastapi.testclient",
    "fastapi.telemetry._runtime",
    "pydantic",
    "pydantic.v1",
    "pydantic.alias_generators",
    "pydantic.functional_serializers",
    "pydantic._internal._dataclasses",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "anyio._backends._asyncio",
    "asgi_lifespan",
    "asgi_lifespan._concurrency.asyncio",
    "hypothesis",
    "hypothesis.strategies",
    "pytest",
    "_pytest.debugging",
    "_pytest.faulthandler",
    "_pytest.helpconfig",
    "_pytest.pastebin",
    "_pytest.setuponly",
    "_pytest.setupplan",
    "_pytest.skipping",
    "_pytest.threadexception",
    "_pytest.tracemalloc",
    "_pytest.unittest",
    "_pytest.unraisableexception",
    "_pytest.warnings",
    "pdb",
    "pytest_asyncio.plugin",
    "pytest_timeout",
    "_hypothesis_pytestplugin",
    "workbook.plugin",
    "workbook.reporting",
    "workbook.testing",
)
# slow to import and needed by a few suites only (openapi-spec-validator takes about 3 s,
# SQLAlchemy's asyncio layer and Strawberry's FastAPI router about 1 s each, schemathesis
# and fakeredis half a second, PyJWT a quarter):
# a zygote imports them once it has been idle for IDLE_S with no run in flight (an import
# blocks its loop, and a run's exit must be reported at once), so they never hold up a verdict;
# a run forked before that imports them itself.  An eager zygote (verify's) takes them first.
LATER = (
    "openapi_spec_validator",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
    "aiosqlite",
    "redis.asyncio",
    "fakeredis",
    "jwt",
    "strawberry.fastapi",
    "schemathesis",
    "pydantic_settings",
    "prometheus_client",
)
IDLE_S = 1.0
MESSAGE_BYTES = 1 << 16
LISTEN_POLL_S = 0.5  # how often the listener looks whether the zygote is still alive
READY_TIMEOUT_S = 60.0


def available() -> bool:
    """Whether this platform can fork and pass descriptors between processes."""
    return hasattr(os, "fork") and hasattr(socket, "send_fds") and sys.platform != "win32"


def _send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


# -- the zygote process ------------------------------------------------------------------


def _preload(names: tuple[str, ...]) -> None:
    for name in names:
        with contextlib.suppress(ImportError):
            __import__(name)


def _child(
    sock: socket.socket, request: dict[str, Any], fds: list[int], private: list[int]
) -> None:
    """In the forked child: become a grading child, run pytest, never return."""
    code = 70
    try:
        channel, output = fds
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        with contextlib.suppress(PermissionError):  # a primed child leads its session already
            os.setsid()
        sock.close()
        for fd in private:  # the zygote's own pipes are none of the learner's business
            os.close(fd)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        args = [str(channel) if a == CHANNEL_PLACEHOLDER else a for a in request["args"]]
        from workbook import child

        code = child.main(args)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve_once(fd: int) -> None:
    """A primed child: import the essentials, then run the one job it is handed."""
    sock = socket.socket(fileno=fd)
    _preload(ESSENTIAL)
    data, fds, _flags, _addr = socket.recv_fds(sock, MESSAGE_BYTES, 2)
    if data and len(fds) == 2:
        _child(sock, json.loads(data), fds, [])


def serve(fd: int, *, eager: bool = False) -> None:
    """The zygote's loop: fork a child per request, report pids and exit statuses."""
    sock = socket.socket(fileno=fd)
    later = [] if eager else list(LATER)
    _preload(ESSENTIAL + PRELOAD + (LATER if eager else ()))
    if threading.active_count() != 1:
        _send(sock, {"op": "refused", "why": "a preloaded module started a thread"})
        return
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "request")
    selector.register(wake_read, selectors.EVENT_READ, "child")
    _send(sock, {"op": "ready"})
    running: set[int] = set()  # children not yet reaped: their exit must be told at once
    while True:
        events = selector.select(IDLE_S if later else None)
        if not events and later and not running:  # idle: a slow import now delays nobody
            _preload((later.pop(0),))
            if threading.active_count() != 1:
                _send(sock, {"op": "refused", "why": "a preloaded module started a thread"})
                return
        for key, _ in events:
            if key.data == "child":
                os.read(wake_read, 4096)
                running -= _reap(sock)
                continue
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, MESSAGE_BYTES, 2)
            except OSError:
                return
            if not data:
                return  # the parent has gone
            request = json.loads(data)
            if request.get("op") != "run":
                return
            pid = os.fork()
            if pid == 0:
                selector.close()
                _child(sock, request, fds, [wake_read, wake_write])
            running.add(pid)
            for descriptor in fds:
                os.close(descriptor)
            _send(sock, {"op": "started", "id": request["id"], "pid": pid})


def _reap(sock: socket.socket) -> set[int]:
    """Report every child that has exited; their pids."""
    reaped: set[int] = set()
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.add(pid)
        _send(sock, {"op": "exited", "pid": pid, "code": os.waitstatus_to_exitcode(status)})


# -- the parent's side -------------------------------------------------------------------


@dataclass
class WarmChild:
    """A forked child, as the runner sees it: a pid, a way to wait, a way to kill."""

    pid: int
    _exited: threading.Event = field(default_factory=threading.Event)
    returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int | None:
        self._exited.wait(timeout)
        return self.returncode

    def kill(self) -> None:
        kill_group(self.pid)

    def exited(self, code: int | None) -> None:
        self.returncode = code
        self._exited.set()


class ZygoteError(Exception):
    """The zygote could not start or stopped answering: the runner falls back to cold."""


class Zygote:
    """Starts and talks to one zygote process; thread-safe."""

    def __init__(
        self, env: dict[str, str], *, eager: bool = False, account: Account | None = None
    ) -> None:
        """``eager``: import the LATER modules before the first run (for many runs, as
        verify makes), rather than in the first idle moment (for a learner waiting).
        ``account``: the zygote, and so every child, runs as this account."""
        self.account = account
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        command = [sys.executable, "-I", "-B", "-m", "workbook.zygote", str(theirs.fileno())]
        self.process = subprocess.Popen(
            [*command, *(["--eager"] if eager else [])],
            pass_fds=(theirs.fileno(),),
            env=account.env(env) if account else env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **(account.popen() if account else {}),
        )
        theirs.close()
        self.lock = threading.Lock()
        self.children: dict[int, WarmChild] = {}
        self.starting: dict[int, Callable[[int], None]] = {}
        self.next_id = 0
        self.ready = threading.Event()
        self.failed = ""
        self.closing = False
        self.listener = threading.Thread(target=self._listen, daemon=True)
        self.listener.start()

    def _receive(self) -> bytes:
        """The next message; b"" once the zygote has gone (a datagram has no end of file)."""
        while not self.closing:
            alive = self.process.poll() is None
            try:
                # once the zygote has gone, still read what it sent before it went
                ready, _, _ = select.select([self.sock], [], [], LISTEN_POLL_S if alive else 0)
                if ready:
                    return self.sock.recv(MESSAGE_BYTES)
            except (OSError, ValueError):
                return b""
            if not alive:
                break
        return b""

    def _listen(self) -> None:
        while True:
            data = self._receive()
            if not data:
                break
            message = json.loads(data)
            op = message.get("op")
            if op == "ready":
                self.ready.set()
            elif op == "refused":
                self.failed = str(message.get("why"))
                break
            elif op == "started":
                with self.lock:
                    started = self.starting.pop(message["id"], None)
                if started is not None:
                    started(message["pid"])
            elif op == "exited":
                with self.lock:
                    child = self.children.pop(message["pid"], None)
                if child is not None:
                    child.exited(message["code"])
        self.failed = self.failed or "the zygote stopped"
        self.ready.set()
        with self.lock:
            waiting, self.starting = list(self.starting.values()), {}
            orphans, self.children = list(self.children.values()), {}
        for started in waiting:
            started(-1)
        for child in orphans:  # nobody will reap them now: do not let anyone wait forever
            child.kill()
            child.exited(None)

    def launch(
        self, args: list[str], root: Path, env: dict[str, str], channel: int, output: int
    ) -> WarmChild:
        """Fork a grading child; ``args`` use CHANNEL_PLACEHOLDER for the channel's fd."""
        if not self.ready.wait(READY_TIMEOUT_S) or self.failed:
            raise ZygoteError(self.failed or "the zygote did not start in time")
        got = threading.Event()
        launched: list[WarmChild] = []

        def started(pid: int) -> None:
            if pid > 0:
                launched.append(WarmChild(pid))
                with self.lock:
                    self.children[pid] = launched[0]
            got.set()

        with self.lock:
            request_id, self.next_id = self.next_id, self.next_id + 1
            self.starting[request_id] = started
        if self.account is not None:
            env = self.account.env(env)
        message = {"op": "run", "id": request_id, "args": args, "cwd": str(root), "env": env}
        try:
            _send(self.sock, message, [channel, output])
        except OSError as exc:
            raise ZygoteError(f"the zygote is unreachable: {exc}") from exc
        if not got.wait(READY_TIMEOUT_S) or not launched:
            raise ZygoteError(self.failed or "the zygote did not fork in time")
        return launched[0]

    def close(self) -> None:
        self.closing = True
        self.process.kill()
        self.process.wait()
        self.listener.join(timeout=5)
        with contextlib.suppress(OSError):
            self.sock.close()


class Primed:
    """A cold child spawned early; ``launch`` hands it its one job."""

    def __init__(self, env: dict[str, str]) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        command = [sys.executable, "-I", "-B", "-m", "workbook.zygote", "--once"]
        self.process = subprocess.Popen(
            [*command, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()
        self.launched = False

    def launch(
        self, args: list[str], root: Path, env: dict[str, str], channel: int, output: int
    ) -> Child:
        if self.launched or self.process.poll() is not None:
            raise ZygoteError("the primed child is used up or gone")
        self.launched = True
        message = {"op": "run", "id": 0, "args": args, "cwd": str(root), "env": env}
        try:
            _send(self.sock, message, [channel, output])
        except OSError as exc:
            raise ZygoteError(f"the primed child is unreachable: {exc}") from exc
        finally:
            self.sock.close()
        return ColdChild(self.process)

    def close(self) -> None:
        """Kill the child if nobody gave it a job (the runner kills it otherwise)."""
        if not self.launched:
            self.sock.close()
            self.process.kill()
        self.process.wait()


if __name__ == "__main__":
    if sys.argv[1] == "--once":
        serve_once(int(sys.argv[2]))
    else:
        serve(int(sys.argv[1]), eager="--eager" in sys.argv[2:])
