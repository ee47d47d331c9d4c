"""What a verdict means for the learner's progress, shared by ``check`` and ``watch``."""

from __future__ import annotations

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


def record(store: Store, exercise: Exercise, result: CheckResult) -> tuple[int, str] | None:
    """Save the attempt; return the hint to show with a failure (the latest seen, or the first)."""
    with store.update() as state:
        progress = state.of(exercise.id)
        progress.attempts += 1
        progress.last_result = result.status
        if result.passed:
            if progress.status != "done":
                progress.first_passed_at = now()
            progress.status = "done"
            if state.current == exercise.id:
                state.current = None
            return None
        if progress.status == "done":
            progress.status = "pending"  # it passed once, but not any more
        progress.hints_shown = max(progress.hints_shown, 1)
        level = min(progress.hints_shown, len(exercise.hints))
        return level, exercise.hints[level - 1]


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
