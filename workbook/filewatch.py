"""Saves of the learner's files, from the OS's file events or, where those fail, by polling.

File events do not cross into WSL from Windows drives, rarely arrive from network file
systems, and are missing in some containers.  Known cases switch to polling up front; for
the rest a probe file is written at start, and if its event never arrives the watcher
starts over in polling mode.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path

DEBOUNCE_MS = 200  # a burst of writes within this window is one save
STEP_MS = 30  # how long the files must stay quiet before the burst is reported
POLL_DELAY_MS = 100
PROBE_TIMEOUT_S = 2.0
PROBE_NAME = "watch-probe"
NETWORK_FILESYSTEMS = {
    "9p", "afpfs", "cifs", "davfs", "drvfs", "fuse.sshfs", "ncpfs", "nfs", "nfs4", "smb3",
    "smbfs", "vboxsf",
}  # fmt: skip


def polling_reason(
    root: Path, *, release: str | None = None, mounts: str | None = None
) -> str | None:
    """Why file events cannot be trusted under ``root``, or None when they can.

    ``release`` (the kernel's) and ``mounts`` (``/proc/mounts``) are read from the
    system unless given.
    """
    if os.environ.get("WATCHFILES_FORCE_POLLING"):
        return "WATCHFILES_FORCE_POLLING is set"
    release = (release if release is not None else platform.uname().release).lower()
    target = str(root.resolve())
    if "microsoft" in release and target.startswith("/mnt/"):
        return "WSL does not pass on file events from Windows drives"
    fstype = _filesystem(target, mounts if mounts is not None else _read_mounts())
    if fstype in NETWORK_FILESYSTEMS:
        return f"file events are unreliable on {fstype} file systems"
    return None


def _read_mounts() -> str:
    try:
        return Path("/proc/mounts").read_text()
    except OSError:
        return ""


def _filesystem(target: str, mounts: str) -> str | None:
    """The type of the file system holding ``target``: the longest mount point above it."""
    best: tuple[str, str | None] = ("", None)
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):
            best = (point, fields[2])
    return best[1]


class FileWatcher:
    """Calls ``on_change`` with the changed paths, from a thread of its own."""

    def __init__(
        self,
        folder: Path,
        probe_folder: Path,
        on_change: Callable[[set[Path]], None],
        *,
        polling: bool = False,
    ) -> None:
        self.folder = folder
        self.probe_folder = probe_folder
        self.on_change = on_change
        self.polling = polling
        self.stop_event = threading.Event()
        self.probe_seen = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.probe_folder.mkdir(parents=True, exist_ok=True)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _watch(self) -> None:
        import watchfiles

        for changes in watchfiles.watch(
            self.folder,
            self.probe_folder,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=self.stop_event,
            force_polling=self.polling,
            poll_delay_ms=POLL_DELAY_MS,
            raise_interrupt=False,
        ):
            paths = {Path(path) for _change, path in changes}
            if any(path.name == PROBE_NAME for path in paths):
                self.probe_seen.set()
            paths = {path for path in paths if path.name != PROBE_NAME}
            if paths:
                self.on_change(paths)

    def events_arrive(self, timeout: float = PROBE_TIMEOUT_S) -> bool:
        """Write a probe file and wait for its event: do file events reach us here?"""
        probe = self.probe_folder / PROBE_NAME
        self.probe_seen.clear()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.probe_seen.is_set():
            probe.write_text(str(time.monotonic()))
            self.probe_seen.wait(0.25)
        probe.unlink(missing_ok=True)
        return self.probe_seen.is_set()

    def fall_back_to_polling(self) -> None:
        self.stop()
        self.polling = True
        self.start()
