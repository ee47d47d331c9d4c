"""The progress a submission came with: hints used and solutions peeked at, per exercise.

The grade's own ``progress`` entry when it carries one; else the ``.workbook/state.json``
of the folder or zip named in ``source`` (a git clone never has one: git ignores
``.workbook/``).  The files are the students': read as data only, small, never through
a link.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from workbook.state import DIRECTORY, FILENAME, ExerciseState

PROGRESS_BYTES = 1024 * 1024  # a progress file is small; anything bigger is not one


def progress_of(raw: dict[str, Any], base: Path) -> dict[str, ExerciseState] | None:
    """The submission's progress: the grade's ``progress`` entry, else its own file."""
    given = raw.get("progress")
    if isinstance(given, dict):
        return _parse_progress(given)
    source = raw.get("source")
    if not isinstance(source, str):
        return None
    if not source or "://" in source or source.rstrip("/").endswith(".git"):
        return None  # a clone never carries .workbook/ (git ignores it)
    path = Path(source) if Path(source).is_absolute() else base / source
    try:
        if path.is_dir():
            return _progress_in_folder(path)
        if path.is_file() and path.suffix.lower() == ".zip":
            return _progress_in_zip(path)
    except (OSError, ValueError, zipfile.BadZipFile):
        return None
    return None


def _parse_progress(raw: dict[str, Any]) -> dict[str, ExerciseState] | None:
    exercises = raw.get("exercises", raw)
    if not isinstance(exercises, dict):
        return None
    return {str(key): _sane(ExerciseState.from_json(value)) for key, value in exercises.items()}


def _sane(state: ExerciseState) -> ExerciseState:
    """The counts a report adds up, as numbers whatever the file said."""
    shown = state.hints_shown
    state.hints_shown = shown if isinstance(shown, int) and not isinstance(shown, bool) else 0
    state.hints_shown = max(0, min(state.hints_shown, 99))
    state.peeked = state.peeked is True
    return state


def _parse_bytes(text: bytes) -> dict[str, ExerciseState] | None:
    data = json.loads(text.decode("utf-8"))
    return _parse_progress(data) if isinstance(data, dict) else None


def _progress_in_folder(folder: Path) -> dict[str, ExerciseState] | None:
    roots = [folder, *(c for c in sorted(folder.iterdir()) if c.is_dir() and not c.is_symlink())]
    for root in roots:
        state = root / DIRECTORY / FILENAME
        linked = state.is_symlink() or state.parent.is_symlink()
        if (root / "exercises").is_dir() and state.is_file() and not linked:
            if state.stat().st_size > PROGRESS_BYTES:
                return None
            return _parse_bytes(state.read_bytes())
    return None


def _progress_in_zip(archive: Path) -> dict[str, ExerciseState] | None:
    wanted = (DIRECTORY, FILENAME)
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if parts[-2:] == wanted and len(parts) <= 3 and info.file_size <= PROGRESS_BYTES:
                return _parse_bytes(bundle.read(info))
    return None
