"""What a verdict means for the learner's progress, shared by ``check`` and ``watch``."""

from __future__ import annotations

from dataclasses import dataclass

from workbook.catalog import Catalog, Exercise
from workbook.grading import CheckResult
from workbook.state import State, Store, now


def current_exercise(catalog: Catalog, state: State) -> Exercise | None:
    """The chosen exercise if still open, else the first pending, else the first skipped."""
    exercises = catalog.exercises
    chosen = [e for e in exercises if e.id == state.current]
    if chosen and state.of(chosen[0].id).status != "done":
        return chosen[0]
    for wanted in ("pending", "skipped"):
        for exercise in exercises:
            if state.of(exercise.id).status == wanted:
                return exercise
    return None


@dataclass(frozen=True)
class Recorded:
    """What a verdict changed: the hint the learner last asked for, and a regression."""

    hint: tuple[int, str] | None = None
    regressed: bool = False  # it passed before and fails now


def record(store: Store, exercise: Exercise, result: CheckResult) -> Recorded:
    """Save the attempt.  A failure never reveals a hint by itself (only `workbook hint`
    does, and counts it); it shows again the last one the learner asked for."""
    with store.update() as state:
        progress = state.of(exercise.id)
        progress.attempts += 1
        progress.last_result = result.status
        if result.passed:
            progress.first_passed_at = progress.first_passed_at or now()
            progress.status = "done"
            if state.current == exercise.id:
                state.current = None
            return Recorded()
        level = min(progress.hints_shown, len(exercise.hints))
        hint = (level, exercise.hints[level - 1]) if level else None
        # a pass is kept: experimenting after it shows "passing before, failing now"
        return Recorded(hint, regressed=progress.status == "done")


def reveal_hint(store: Store, exercise: Exercise) -> tuple[int, str, bool]:
    """Reveal the next hint level: (level, text, whether the last one was already shown)."""
    with store.update() as state:
        progress = state.of(exercise.id)
        again = progress.hints_shown >= len(exercise.hints)
        progress.hints_shown = min(progress.hints_shown + 1, len(exercise.hints))
        level = progress.hints_shown
    return level, exercise.hints[level - 1], again


def done_count(catalog: Catalog, state: State) -> int:
    return sum(state.of(e.id).status == "done" for e in catalog.exercises)
