"""Progress: atomic writes, a broken file rebuilt with a warning, no lost updates."""

import json
import multiprocessing
from pathlib import Path

from workbook.state import State, Store

WORKERS = 4
UPDATES = 25


def bump(root: str) -> None:
    store = Store(Path(root))
    for _ in range(UPDATES):
        with store.update() as state:
            state.of("01_basics/01_greeting").attempts += 1


def test_round_trips_progress(tmp_path):
    store = Store(tmp_path)
    with store.update() as state:
        state.current = "01_basics/02_square"
        state.of("01_basics/01_greeting").status = "done"
    reread = Store(tmp_path).read()
    assert reread.current == "01_basics/02_square"
    assert reread.of("01_basics/01_greeting").status == "done"
    assert (tmp_path / ".workbook/.gitignore").read_text() == "*\n"


def test_missing_file_is_a_fresh_start_without_warning(tmp_path):
    store = Store(tmp_path)
    assert store.read() == State()
    assert store.warnings == []


def test_corrupt_file_is_rebuilt_with_a_warning_and_kept(tmp_path):
    store = Store(tmp_path)
    store.write(State(current="x"))
    store.path.write_text('{"version": 1, "exercises": {"a": ')
    assert store.read() == State()
    assert "rebuilt" in store.warnings[0]
    assert len(list(store.directory.glob("state.json.broken-*"))) == 1


def test_unknown_statuses_and_fields_are_ignored(tmp_path):
    store = Store(tmp_path)
    store.directory.mkdir()
    store.path.write_text(
        json.dumps({"version": 1, "exercises": {"a": {"status": "weird", "extra": 1}}})
    )
    assert store.read().of("a").status == "pending"


def test_no_temporary_files_are_left_behind(tmp_path):
    store = Store(tmp_path)
    for _ in range(3):
        with store.update() as state:
            state.of("a").attempts += 1
    assert sorted(p.name for p in store.directory.iterdir()) == [
        ".gitignore",
        "state.json",
        "state.lock",
    ]


def test_concurrent_updates_are_neither_lost_nor_corrupting(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=bump, args=(str(tmp_path),)) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    data = json.loads((tmp_path / ".workbook/state.json").read_text())
    assert data["exercises"]["01_basics/01_greeting"]["attempts"] == WORKERS * UPDATES
