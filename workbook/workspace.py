"""Finding the workbook and the exercise a command is about, without any CLI framework."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbook import catalog as catalog_module
from workbook import messages, pristine
from workbook.catalog import Catalog, CatalogError, Exercise
from workbook.progress import current_exercise
from workbook.state import State, Store

EXIT_GRADER = 3


class UsageError(Exception):
    """The command cannot go on: ``message`` says why, ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Workbook:
    catalog: Catalog
    store: Store

    @property
    def root(self) -> Path:
        return self.catalog.root


def open_workbook(root_option: Path | None) -> Workbook:
    """The workbook at ``--root`` or around the working directory, its catalog checked."""
    root = root_option.resolve() if root_option else catalog_module.find_root(Path.cwd())
    if root is None or not (root / catalog_module.FILENAME).is_file():
        raise UsageError(messages.NO_ROOT)
    try:
        catalog = catalog_module.load(root)
    except CatalogError as exc:
        # the catalog is the grader's own file: its problems are never the learner's
        problems = "\n  - ".join([messages.CATALOG_BROKEN, *exc.problems])
        raise UsageError(problems, EXIT_GRADER) from None
    pristine.save_missing(catalog)
    return Workbook(catalog, Store(root))


def resolve(workbook: Workbook, fragment: str | None, state: State) -> Exercise:
    """The exercise a fragment of its id names, or the current one."""
    if fragment is None:
        exercise = current_exercise(workbook.catalog, state)
        if exercise is None:
            raise UsageError(messages.ALL_DONE, 0)
        return exercise
    matches = workbook.catalog.find(fragment)
    if not matches:
        raise UsageError(messages.UNKNOWN_EXERCISE.format(fragment=fragment))
    if len(matches) > 1:
        ids = ", ".join(m.id for m in matches)
        raise UsageError(messages.AMBIGUOUS_EXERCISE.format(fragment=fragment, matches=ids))
    return matches[0]
