"""Saves are seen through file events, or by polling where events cannot be trusted."""

import threading
from pathlib import Path

import pytest

from workbook import filewatch
from workbook.filewatch import FileWatcher

WAIT_S = 10


@pytest.mark.parametrize(
    ("release", "mounts", "root", "expected"),
    [
        ("6.1.0", "/dev/vda / ext4 rw 0 0", "/home/ada/wb", None),
        ("5.15.0-microsoft-standard-WSL2", "C: /mnt/c 9p rw 0 0", "/mnt/c/wb", "WSL"),
        ("6.1.0", "/dev/vda / ext4 rw 0 0\nserver:/x /net nfs4 rw 0 0", "/net/wb", "nfs4"),
        ("6.1.0", "server:/x /net nfs4 rw 0 0\n/dev/vdb /net/local ext4 rw 0 0", "/net/local/wb",
         None),
    ],
)  # fmt: skip
def test_polling_is_chosen_where_events_are_known_to_fail(
    monkeypatch, release, mounts, root, expected
):
    monkeypatch.delenv("WATCHFILES_FORCE_POLLING", raising=False)
    reason = filewatch.polling_reason(Path(root), release=release, mounts=mounts)
    assert (reason is None) if expected is None else (expected in reason)


def saves(tmp_path: Path, polling: bool) -> tuple[FileWatcher, list[set[Path]], threading.Event]:
    seen: list[set[Path]] = []
    arrived = threading.Event()

    def on_change(paths: set[Path]) -> None:
        seen.append(paths)
        arrived.set()

    folder = tmp_path / "exercises"
    folder.mkdir()
    watcher = FileWatcher(folder, tmp_path / "probe", on_change, polling=polling)
    watcher.start()
    return watcher, seen, arrived


@pytest.mark.parametrize("polling", [False, True], ids=["events", "polling"])
def test_a_save_is_reported_once_with_its_path(tmp_path, polling):
    watcher, seen, arrived = saves(tmp_path, polling)
    try:
        assert watcher.events_arrive()  # also proves the watcher is up
        exercise = tmp_path / "exercises" / "01_x.py"
        exercise.write_text("x = 1\n")
        assert arrived.wait(WAIT_S)
        assert exercise in set().union(*seen)
    finally:
        watcher.stop()


def test_falling_back_to_polling_keeps_reporting_saves(tmp_path):
    watcher, _seen, arrived = saves(tmp_path, polling=False)
    try:
        watcher.fall_back_to_polling()
        assert watcher.polling
        assert watcher.events_arrive()
        (tmp_path / "exercises" / "01_x.py").write_text("x = 2\n")
        assert arrived.wait(WAIT_S)
    finally:
        watcher.stop()
