"""Single keys from the terminal, and the learner's editor.

Keys are read in cbreak mode (no Enter needed, no echo, Ctrl-C still works) on a thread
of their own; the terminal's mode is restored on stop, on pause (while an editor or a
prompt owns the terminal) and at exit.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEQUENCES = {
    "\x1b[A": "up",
    "\x1b[B": "down",
    "\x1b[H": "home",
    "\x1b[F": "end",
    "\r": "enter",
    "\n": "enter",
    "\x7f": "backspace",
    "\x08": "backspace",
    "\x1b": "escape",
}


def split_keys(data: str) -> list[str]:
    """Split what one read returned into keys; escape sequences stay whole."""
    keys, index = [], 0
    while index < len(data):
        for sequence in sorted(SEQUENCES, key=len, reverse=True):
            if data.startswith(sequence, index):
                keys.append(SEQUENCES[sequence])
                index += len(sequence)
                break
        else:
            keys.append(data[index])
            index += 1
    return keys


class KeyReader:
    """Calls ``on_key`` for every key pressed, from a thread of its own."""

    def __init__(self, on_key: Callable[[str], None], stream: Any = None) -> None:
        self.on_key = on_key
        self.stream = stream or sys.stdin
        self.fd = self.stream.fileno()
        self.saved: Any = None
        self.wake_read, self.wake_write = os.pipe()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.active = threading.Event()
        self.active.set()
        self.stopping = False

    @property
    def interactive(self) -> bool:
        return os.isatty(self.fd)

    def start(self) -> None:
        self._raw()
        self.thread.start()

    def _raw(self) -> None:
        if not self.interactive:
            return
        import termios
        import tty

        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)

    def _restore(self) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.saved = None

    def _read(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.fd, selectors.EVENT_READ)
        selector.register(self.wake_read, selectors.EVENT_READ)
        while True:
            self.active.wait()
            ready = [key.fd for key, _ in selector.select(timeout=0.2)]
            if self.stopping or self.wake_read in ready:
                return
            if self.fd not in ready or not self.active.is_set():
                continue
            data = os.read(self.fd, 64)
            if not data:
                return
            for key in split_keys(data.decode("utf-8", "replace")):
                self.on_key(key)

    @contextlib.contextmanager
    def suspended(self) -> Any:
        """Give the terminal back (for an editor) and take it again afterwards."""
        self.active.clear()
        self._restore()
        try:
            yield
        finally:
            self._raw()
            self.active.set()

    def stop(self) -> None:
        self.stopping = True
        self.active.set()
        os.write(self.wake_write, b"x")
        if self.thread.is_alive():
            self.thread.join(timeout=2)
        self._restore()


def editor_command(edit_cmd: str | None) -> tuple[list[str], bool] | None:
    """How to open a file: the command, and whether it runs beside watch (a GUI editor).

    ``--edit-cmd`` wins; inside VS Code's terminal, ``code -r``; else $VISUAL or $EDITOR,
    which take over the terminal until they exit.
    """
    if edit_cmd:
        return shlex.split(edit_cmd), True
    if os.environ.get("TERM_PROGRAM") == "vscode" and shutil.which("code"):
        return ["code", "-r"], True
    for variable in ("VISUAL", "EDITOR"):
        if value := os.environ.get(variable):
            return shlex.split(value), False
    return None


def open_in_editor(path: Path, command: list[str], beside: bool, keys: KeyReader | None) -> None:
    """Open ``path``: a GUI editor beside watch, a terminal editor in the foreground."""
    if beside:
        subprocess.Popen(
            [*command, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return
    with keys.suspended() if keys is not None else contextlib.nullcontext():
        subprocess.run([*command, str(path)], check=False)
