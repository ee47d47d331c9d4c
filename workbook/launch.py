"""Starting a grading child: cold (a fresh interpreter) or warm (forked by the zygote).

Either way the child runs :mod:`workbook.child` with the same arguments, writes its
output to a pipe and its events to a channel the parent owns, and leads a process group
of its own so that everything it starts can be killed with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

CHANNEL_PLACEHOLDER = "{channel}"
TOKEN_VARIABLE = "WORKBOOK_RUN"
SCRUBBED = ("PYTEST_", "PYTHON", "HYPOTHESIS_", "COV_")


class Child(Protocol):
    """A running grading child, however it was started."""

    @property
    def pid(self) -> int: ...

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (negative for a signal), or None if it is still running."""
        ...

    def kill(self) -> None:
        """Kill the child's whole process group."""
        ...


class Launcher(Protocol):
    def launch(
        self, args: list[str], root: Path, env: dict[str, str], channel: int, output: int
    ) -> Child: ...


def kill_group(pid: int) -> None:
    """SIGKILL a process group, or the process alone if it leads none (yet)."""
    for kill in (os.killpg, os.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):
            kill(pid, signal.SIGKILL)
            return


def base_env(root: Path) -> dict[str, str]:
    """The environment of every grading child: the learner's, minus what steers pytest."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", MALLOC_ARENA_MAX="2", NO_COLOR="1")
    # hypothesis keeps caches on disk: inside the progress folder, not in the learner's tree
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(root / ".workbook" / "hypothesis")
    return env


@dataclass(frozen=True)
class Account:
    """Who grading children run as (``workbook grade --run-as``), when not as this process.

    Graded as another, unprivileged account, learner code can neither write the
    instructor's files nor, on a grader that runs as root, anything else of the machine's.
    ``home`` is a folder of the account's own: its HOME and its hypothesis database.
    """

    name: str
    uid: int
    gid: int
    home: Path

    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {
            **env,
            "HOME": str(self.home),
            "USER": self.name,
            "LOGNAME": self.name,
            "HYPOTHESIS_STORAGE_DIRECTORY": str(self.home / "hypothesis"),
        }

    def popen(self) -> dict[str, Any]:
        """What :class:`subprocess.Popen` needs to start a process as this account."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


@dataclass
class ColdChild:
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        kill_group(self.process.pid)


class ColdLauncher:
    """A fresh interpreter per run: slower to start, but needs nothing warmed up."""

    def __init__(self, account: Account | None = None) -> None:
        self.account = account

    def launch(
        self, args: list[str], root: Path, env: dict[str, str], channel: int, output: int
    ) -> Child:
        args = [str(channel) if a == CHANNEL_PLACEHOLDER else a for a in args]
        account = self.account
        process = subprocess.Popen(
            [sys.executable, "-I", "-B", "-m", "workbook.child", *args],
            cwd=root,
            env=account.env(env) if account else env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            pass_fds=(channel,),
            start_new_session=True,
            **(account.popen() if account else {}),
        )
        return ColdChild(process)
