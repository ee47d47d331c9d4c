"""Pristine copies of the stubs, so ``workbook reset`` can restore them.

The first time the workbook sees an exercise it saves its stub under
``.workbook/pristine/``; a learner following the Quickstart has not edited anything by
then.  Where no copy was saved, the version in git's ``HEAD`` is used instead.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from workbook.catalog import Catalog, Exercise
from workbook.state import DIRECTORY

FOLDER = "pristine"


def _copy_path(root: Path, exercise: Exercise) -> Path:
    stub = exercise.stub(root)
    return root / DIRECTORY / FOLDER / stub.relative_to(root / "exercises")


def save_missing(catalog: Catalog) -> None:
    """Save a copy of every stub that has none yet."""
    for exercise in catalog.exercises:
        stub, copy = exercise.stub(catalog.root), _copy_path(catalog.root, exercise)
        if copy.exists() or not stub.exists():
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        if stub.is_dir():
            shutil.copytree(stub, copy, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(stub, copy)


def restore(catalog: Catalog, exercise: Exercise) -> bool:
    """Put the pristine stub back; False when no pristine version is known."""
    stub, copy = exercise.stub(catalog.root), _copy_path(catalog.root, exercise)
    if copy.is_dir():
        shutil.rmtree(stub, ignore_errors=True)
        shutil.copytree(copy, stub)
        return True
    if copy.is_file():
        shutil.copy2(copy, stub)
        return True
    return _restore_from_git(catalog.root, stub)


def _restore_from_git(root: Path, stub: Path) -> bool:
    relative = stub.relative_to(root).as_posix()
    try:
        done = subprocess.run(
            ["git", "show", f"HEAD:{relative}"], cwd=root, capture_output=True, check=False
        )
    except OSError:
        return False
    if done.returncode != 0:
        return False
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_bytes(done.stdout)
    return True
