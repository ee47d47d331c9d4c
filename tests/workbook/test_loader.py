"""Loading files by path: cached for targets, a fresh copy each time for snippets."""

import sys
from pathlib import Path

from workbook.loader import load, load_copy


def test_load_copy_gives_each_call_its_own_module_state(tmp_path: Path):
    (tmp_path / "loader_neighbour.py").write_text("GREETING = 'hello'\n")
    path = tmp_path / "counter.py"
    path.write_text("from loader_neighbour import GREETING\n\nCALLS = []\n")
    first, second = load_copy(path), load_copy(path)
    first.CALLS.append(1)
    assert second.CALLS == []
    assert first.GREETING == "hello"  # its folder was importable while it ran
    assert str(tmp_path) not in sys.path  # and is not any more
    sys.modules.pop("loader_neighbour")


def test_load_gives_the_same_module_every_time(tmp_path: Path):
    path = tmp_path / "target.py"
    path.write_text("CALLS = []\n")
    assert load(path) is load(path)
