"""The catalog, ``curriculum.toml``: modules and exercises in teaching order.

Loading validates everything a command relies on and reports every problem at once,
each with where it is (``exercise 01_async/02_wrap: hint 2 is empty``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILENAME = "curriculum.toml"
FORMAT_VERSION = 1
NAME = re.compile(r"^\d\d_[a-z0-9_]+$")
ANCHOR = re.compile(r"\{\s*#([\w-]+)[^}]*\}\s*$")
HINTS = range(2, 4)
KEYS = {
    "catalog": {
        "format_version",
        "title",
        "welcome_message",
        "final_message",
        "defaults",
        "modules",
        "edition",
    },
    "defaults": {"points", "timeout", "run_timeout", "feedback"},
    "module": {"id", "title", "lesson", "notebook", "exercises"},
    "exercise": {
        "name",
        "title",
        "section",
        "hints",
        "points",
        "timeout",
        "run_timeout",
        "public",
        "feedback",
    },
}
EDITIONS = ("author", "student")
FEEDBACK = ("points", "requirements", "full")  # what `workbook grade` shows students


class CatalogError(Exception):
    """The catalog or the files it names are inconsistent; ``problems`` lists each."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.path = path
        self.problems = problems


@dataclass(frozen=True)
class Exercise:
    id: str
    module: str
    name: str
    title: str
    section: str
    hints: tuple[str, ...]
    points: int
    test_timeout: int
    run_timeout: int
    lesson: str
    notebook: str
    public: tuple[str, ...] | None = None  # checks a student edition ships; None: the first
    feedback: str = "requirements"  # what graded reports show students: one of FEEDBACK

    def stub(self, root: Path) -> Path:
        return _file_or_package(root / "exercises" / self.module, self.name)

    def solution(self, root: Path) -> Path:
        return _file_or_package(root / "solutions" / self.module, self.name)

    def suite(self, root: Path) -> Path:
        return root / "tests" / self.module / f"test_{self.name}.py"

    def known_wrong(self, root: Path) -> list[Path]:
        folder = root / "tests" / self.module / "wrong"
        return sorted(folder.glob(f"{self.name}__*.diff"))

    def lesson_link(self) -> str:
        return f"{self.lesson}#{self.section}"


@dataclass(frozen=True)
class Module:
    id: str
    title: str
    lesson: str
    notebook: str
    exercises: tuple[Exercise, ...]


@dataclass(frozen=True)
class Catalog:
    root: Path
    title: str
    welcome_message: str
    final_message: str
    modules: tuple[Module, ...]
    edition: str = "author"

    @property
    def student_edition(self) -> bool:
        """A released copy: stubs and public checks, no solutions or hidden suites."""
        return self.edition == "student"

    @property
    def exercises(self) -> list[Exercise]:
        return [exercise for module in self.modules for exercise in module.exercises]

    def find(self, fragment: str) -> list[Exercise]:
        """Exercises whose id is ``fragment`` or contains it (``03/02``, ``yield_cleanup``)."""
        fragment = fragment.strip().strip("/").removesuffix(".py")
        for tree in ("exercises/", "solutions/"):  # a path to the file names it too
            fragment = fragment.removeprefix(tree)
        exact = [e for e in self.exercises if e.id == fragment]
        if exact:
            return exact
        return [e for e in self.exercises if _matches(e.id, fragment)]


def _matches(exercise_id: str, fragment: str) -> bool:
    if fragment in exercise_id:
        return True
    # "03/02" matches "03_dependencies/02_yield_cleanup": each part prefixes its segment
    parts, segments = fragment.split("/"), exercise_id.split("/")
    return len(parts) == len(segments) and all(
        seg.startswith(part) for part, seg in zip(parts, segments, strict=True)
    )


def _file_or_package(folder: Path, name: str) -> Path:
    package = folder / name
    return package if package.is_dir() else folder / f"{name}.py"


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds the catalog."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / FILENAME).is_file():
            return folder
    return None


def lesson_anchors(path: Path) -> set[str]:
    """Explicit heading anchors (``## Title { #anchor }``) of a lesson page."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and (match := ANCHOR.search(line)):
            anchors.add(match.group(1))
    return anchors


def load(root: Path) -> Catalog:
    """Read and validate ``root/curriculum.toml``; raise :class:`CatalogError` on problems."""
    path = root / FILENAME
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(path, [f"cannot read {FILENAME}: {exc}"]) from exc
    return _Parser(root, path, data.get("edition", "author")).catalog(data)


class _Parser:
    def __init__(self, root: Path, path: Path, edition: object) -> None:
        self.root = root
        self.path = path
        self.problems: list[str] = []
        self.ids: set[str] = set()
        self.edition = edition if edition in EDITIONS else "author"
        if edition not in EDITIONS:
            self.problem(FILENAME, f"edition is {edition!r} (expected 'author' or 'student')")

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def catalog(self, data: dict[str, Any]) -> Catalog:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            detail = "update the workbook" if isinstance(version, int) else "expected 1"
            self.problem(FILENAME, f"format_version is {version!r} ({detail})")
        self.known(data, "catalog", FILENAME)
        defaults = data.get("defaults", {})
        self.known(defaults, "defaults", "[defaults]")
        modules = tuple(self.module(raw, defaults) for raw in data.get("modules", []))
        if not modules:
            self.problem(FILENAME, "no modules")
        if self.problems:
            raise CatalogError(self.path, self.problems)
        return Catalog(
            root=self.root,
            title=str(data.get("title", "Workbook")),
            welcome_message=str(data.get("welcome_message", "")).strip(),
            final_message=str(data.get("final_message", "")).strip(),
            modules=modules,
            edition=self.edition,
        )

    def known(self, raw: dict[str, Any], kind: str, where: str) -> None:
        for key in sorted(set(raw) - KEYS[kind]):
            self.problem(where, f"unknown key `{key}`")

    def text(self, raw: dict[str, Any], key: str, where: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            self.problem(where, f"`{key}` is missing or empty")
            return ""
        return value.strip()

    def existing(self, raw: dict[str, Any], key: str, where: str) -> str:
        value = self.text(raw, key, where)
        if value and not (self.root / value).is_file():
            self.problem(where, f"{key} file {value} does not exist")
        return value

    def module(self, raw: dict[str, Any], defaults: dict[str, Any]) -> Module:
        module_id = str(raw.get("id", ""))
        where = f"module {module_id or '?'}"
        self.known(raw, "module", where)
        if not NAME.match(module_id):
            self.problem(where, "`id` must look like 01_async_foundations")
        lesson = self.existing(raw, "lesson", where)
        notebook = self.existing(raw, "notebook", where)
        page = self.root / lesson
        anchors = lesson_anchors(page) if lesson and page.is_file() else None
        exercises = tuple(
            self.exercise(module_id, item, defaults, lesson, notebook, anchors)
            for item in raw.get("exercises", [])
        )
        if not exercises:
            self.problem(where, "has no exercises")
        return Module(module_id, self.text(raw, "title", where), lesson, notebook, exercises)

    def exercise(
        self,
        module_id: str,
        raw: dict[str, Any],
        defaults: dict[str, Any],
        lesson: str,
        notebook: str,
        anchors: set[str] | None,
    ) -> Exercise:
        name = str(raw.get("name", ""))
        exercise_id = f"{module_id}/{name}"
        where = f"exercise {exercise_id}"
        self.known(raw, "exercise", where)
        if not NAME.match(name):
            self.problem(where, "`name` must look like 02_wrap_blocking_sdk")
        if exercise_id in self.ids:
            self.problem(where, "duplicate id")
        self.ids.add(exercise_id)
        hints = raw.get("hints", [])
        if not isinstance(hints, list) or len(hints) not in HINTS:
            self.problem(where, "needs 2 or 3 hints")
            hints = []
        for number, hint in enumerate(hints, 1):
            if not isinstance(hint, str) or not hint.strip():
                self.problem(where, f"hint {number} is empty")
        section = self.text(raw, "section", where)
        if section and anchors is not None and section not in anchors:
            self.problem(where, f"section #{section} is not an anchor in {lesson}")
        exercise = Exercise(
            id=exercise_id,
            module=module_id,
            name=name,
            title=self.text(raw, "title", where),
            section=section,
            hints=tuple(str(h).strip() for h in hints),
            points=self.positive(raw, defaults, "points", where, 10),
            test_timeout=self.positive(raw, defaults, "timeout", where, 10),
            run_timeout=self.positive(raw, defaults, "run_timeout", where, 120),
            lesson=lesson,
            notebook=notebook,
            public=self.public(raw, where),
            feedback=self.feedback(raw, defaults, where),
        )
        kinds = ("stub", "suite") if self.edition == "student" else ("stub", "solution", "suite")
        for kind in kinds:
            path = getattr(exercise, kind)(self.root)
            if not path.exists():
                self.problem(where, f"{kind} {path.relative_to(self.root)} does not exist")
        return exercise

    def public(self, raw: dict[str, Any], where: str) -> tuple[str, ...] | None:
        value = raw.get("public")
        if value is None:
            return None
        if not isinstance(value, list) or not all(
            isinstance(name, str) and name.startswith("test_") for name in value
        ):
            self.problem(where, "`public` must be a list of test function names (test_...)")
            return None
        return tuple(value)

    def feedback(self, raw: dict[str, Any], defaults: dict[str, Any], where: str) -> str:
        value = raw.get("feedback", defaults.get("feedback", "requirements"))
        if value not in FEEDBACK:
            self.problem(where, f"`feedback` must be one of {', '.join(FEEDBACK)}")
            return "requirements"
        return str(value)

    def positive(
        self, raw: dict[str, Any], defaults: dict[str, Any], key: str, where: str, fallback: int
    ) -> int:
        value = raw.get(key, defaults.get(key, fallback))
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            self.problem(where, f"`{key}` must be a positive whole number")
            return fallback
        return value
