"""Progress under ``.workbook/``, keyed by exercise id.

Every write goes to a temporary file that replaces the old one, so a reader never sees a
half-written file; a lock around read-modify-write keeps two checks at once from losing
each other's update.  A missing or unreadable file is rebuilt, with a warning.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DIRECTORY = ".workbook"
FILENAME = "state.json"
VERSION = 1
STATUSES = ("pending", "done", "skipped")


@dataclass
class ExerciseState:
    status: str = "pending"
    attempts: int = 0
    last_result: str | None = None
    hints_shown: int = 0
    peeked: bool = False
    first_passed_at: str | None = None

    @classmethod
    def from_json(cls, raw: Any) -> ExerciseState:
        if not isinstance(raw, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        state = cls(**{k: v for k, v in raw.items() if k in known})
        if state.status not in STATUSES:
            state.status = "pending"
        return state


@dataclass
class State:
    current: str | None = None
    exercises: dict[str, ExerciseState] = field(default_factory=dict)
    welcomed: bool = False

    def of(self, exercise_id: str) -> ExerciseState:
        return self.exercises.setdefault(exercise_id, ExerciseState())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "current": self.current,
            "welcomed": self.welcomed,
            "exercises": {key: asdict(value) for key, value in sorted(self.exercises.items())},
        }


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """Reads and writes the progress of the workbook at ``root``."""

    def __init__(self, root: Path) -> None:
        self.directory = root / DIRECTORY
        self.path = self.directory / FILENAME
        self.warnings: list[str] = []

    def read(self) -> State:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return State()
        except (OSError, ValueError) as exc:
            return self._rebuild(f"it could not be read ({exc})")
        if not isinstance(raw, dict) or raw.get("version") != VERSION:
            return self._rebuild("its format is not one this workbook knows")
        exercises = raw.get("exercises")
        current = raw.get("current")
        return State(
            current=current if isinstance(current, str) else None,
            exercises={
                str(k): ExerciseState.from_json(v)
                for k, v in (exercises.items() if isinstance(exercises, dict) else [])
            },
            welcomed=bool(raw.get("welcomed", False)),
        )

    def _rebuild(self, why: str) -> State:
        backup = self.path.with_name(f"{FILENAME}.broken-{int(time.time())}")
        try:
            self.path.replace(backup)
            kept = f"; the old file is kept as {backup.name}"
        except OSError:
            kept = ""
        self.warnings.append(f"your progress file was rebuilt because {why}{kept}")
        return State()

    def write(self, state: State) -> None:
        self.directory.mkdir(exist_ok=True)
        gitignore = self.directory / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("*\n", encoding="utf-8")
        data = json.dumps(state.to_json(), indent=2) + "\n"
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @contextmanager
    def update(self) -> Iterator[State]:
        """Lock, read, let the caller change the state, then write it back atomically."""
        self.directory.mkdir(exist_ok=True)
        with _locked(self.directory / "state.lock"):
            state = self.read()
            yield state
            self.write(state)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: atomic replace still prevents corruption
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
