"""``workbook release DEST``: the student edition of the workbook, checked before it is written.

The student edition holds the lessons, the notebooks, the stubs, the CLI and the catalog, and
for each exercise a *public slice* of its hidden suite: the checks the catalog names in
``public`` (the suite's first check when it names none; with ``public = []``, one check that
the file loads), with only the fixtures and helpers those checks use.  Solutions, hidden
suites, known-wrong variants and mutants stay behind.

Two gates stand before anything is written: the whole workbook verified green since its
last change (``workbook verify`` records a fingerprint of what it verified), and a leak scan
of the edition: no run of three significant lines may appear in it that only a solution or a
hidden suite contains.  The edition is built in a temporary folder and moved into place only
when both gates pass.  ``LOCKED.sha256`` lists every file the student must not edit; the
instructor keeps a copy at ``.workbook/release/LOCKED.sha256``, which ``workbook grade``
compares submissions with (the student's own copy could have been edited).
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from workbook.catalog import FILENAME, Catalog, Exercise

VERIFIED = Path(".workbook") / "verified.json"
MANIFEST = "LOCKED.sha256"
KEPT_MANIFEST = Path(".workbook") / "release" / MANIFEST  # the instructor's copy, for grading
FINGERPRINTED = ("curriculum.toml", "exercises", "solutions", "tests", "workbook")
SHIPPED_FILES = ("bootstrap.py", "pyproject.toml", "uv.lock", "mkdocs.yml", ".gitignore")
SHIPPED_TREES = ("lessons", "notebooks", "exercises", "workbook")
UNLOCKED = ("exercises/", "notebooks/")  # the student edits these; everything else is locked
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}
LEAK_RUN = 3  # this many significant lines in a row make a leak
SIGNIFICANT = 24  # characters, once stripped: shorter lines are too common to tell anything


class ReleaseError(Exception):
    """The edition cannot be written; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Leak:
    path: str  # in the edition
    line: str  # a line number, or a notebook's cell and line
    source: str  # the solution or hidden file it comes from
    text: str


# -- the verify gate ---------------------------------------------------------------------


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not SKIPPED_PARTS & set(path.parts):
            yield path


def fingerprint(root: Path) -> str:
    """One hash of everything ``workbook verify`` proves: catalog, stubs, solutions, suites."""
    digest = hashlib.sha256()
    for name in FINGERPRINTED:
        top = root / name
        for path in [top] if top.is_file() else _files(top) if top.is_dir() else []:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def record_verified(root: Path) -> None:
    """Remember that the workbook, as it is now, verified green as a whole."""
    path = root / VERIFIED
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fingerprint": fingerprint(root)}) + "\n", encoding="utf-8")


def verified(root: Path) -> bool:
    try:
        recorded = json.loads((root / VERIFIED).read_text(encoding="utf-8"))["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return bool(recorded == fingerprint(root))


# -- public slices -----------------------------------------------------------------------


def _is_fixture(node: ast.AST) -> bool:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    for decorator in node.decorator_list:
        call = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(call, ast.Attribute) and call.attr == "fixture":
            return True
    return False


def _autouse(node: ast.AST) -> bool:
    return _is_fixture(node) and any(
        isinstance(d, ast.Call)
        and any(k.arg == "autouse" and getattr(k.value, "value", False) for k in d.keywords)
        for d in node.decorator_list  # type: ignore[attr-defined]
    )


def _defines(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _uses(node: ast.stmt) -> set[str]:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        args = node.args
        names |= {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    return names


def _segment(lines: list[str], node: ast.stmt) -> str:
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return "".join(lines[start - 1 : node.end_lineno])


def public_slice(source: str, exercise: Exercise) -> str:
    """The public checks of a hidden suite, with only what they use; raise ReleaseError."""
    tree = ast.parse(source)
    header = (
        f'"""Public checks of {exercise.id}: a few of the requirements, to try your file.\n\n'
        "Your instructor grades it with every requirement of the exercise, these included.\n"
        '"""\n\n'
    )
    if exercise.public == ():
        return header + (
            "from types import ModuleType\n\n\n"
            "def test_the_file_loads(exercise):\n"
            '    """your file imports without errors (every requirement is graded by your '
            'instructor)"""\n'
            "    assert isinstance(exercise, ModuleType)\n"
        )
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    tests = {
        node.name: node
        for node in body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }
    where = f"exercise {exercise.id}"
    if not tests:
        raise ReleaseError([f"{where}: its hidden suite has no test functions"])
    chosen = exercise.public if exercise.public is not None else (next(iter(tests)),)
    unknown = [name for name in chosen if name not in tests]
    if unknown:
        raise ReleaseError([f"{where}: public names {', '.join(unknown)}, not in its suite"])
    needed: set[str] = set()
    for name in chosen:
        needed |= _uses(tests[name])
    kept = {id(tests[name]) for name in chosen}
    kept |= {id(node) for node in body if _autouse(node) or "pytestmark" in _defines(node)}
    for node in body:
        if id(node) in kept:
            needed |= _uses(node)
    changed = True
    while changed:
        changed = False
        for node in body:
            if id(node) in kept or isinstance(node, ast.Import | ast.ImportFrom):
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in tests:
                continue
            if _defines(node) & needed:
                kept.add(id(node))
                needed |= _uses(node)
                changed = True
    fixtures = {node.name for node in body if _is_fixture(node)}  # type: ignore[attr-defined]
    requested = {  # what the kept checks and fixtures ask pytest for, by parameter name
        arg.arg
        for node in body
        if id(node) in kept
        and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.name in tests or _is_fixture(node))
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
    }
    if "reference" in requested and "reference" not in fixtures:
        raise ReleaseError(
            [
                f"{where}: the public checks {', '.join(chosen)} use the reference solution, "
                "which a student edition does not hold: name others in `public` (or `public = "
                "[]` for a check that the file loads)"
            ]
        )
    lines = source.splitlines(keepends=True)
    parts = [
        _segment(lines, node)
        for node in body
        if isinstance(node, ast.Import | ast.ImportFrom) or id(node) in kept
    ]
    return header + "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


def _helpers_used(suite: Path, text: str) -> list[Path]:
    """Helper modules beside a suite (not test files) that its public slice names."""
    return [
        path
        for path in sorted(suite.parent.glob("*.py"))
        if not path.name.startswith("test_") and path.name in text
    ]


# -- the leak scan -----------------------------------------------------------------------


def _significant(line: str) -> str | None:
    text = line.strip()
    if len(text) < SIGNIFICANT or text.startswith(("import ", "from ", "#")):
        return None
    return text


def _text_lines(path: Path) -> list[tuple[str, str]]:
    """(where, line) for each line of a text file, of each cell of a notebook."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if path.suffix != ".ipynb":
        return [(str(number), line) for number, line in enumerate(text.splitlines(), 1)]
    try:
        cells = json.loads(text)["cells"]
    except (ValueError, KeyError, TypeError):
        return []
    return [
        (f"cell {index}, line {number}", line)
        for index, cell in enumerate(cells, 1)
        for number, line in enumerate("".join(cell.get("source", [])).splitlines(), 1)
    ]


def _significant_lines(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    for path in paths:
        for _, line in _text_lines(path):
            if path.suffix == ".diff":  # what a variant adds is its own code
                if not line.startswith("+") or line.startswith("+++"):
                    continue
                line = line[1:]
            if (significant := _significant(line)) is not None:
                yield path, significant


def _hidden_sources(catalog: Catalog) -> list[Path]:
    root = catalog.root
    sources: set[Path] = set()
    for exercise in catalog.exercises:
        solution = exercise.solution(root)
        sources |= set(_files(solution)) if solution.is_dir() else {solution}
        folder = root / "tests" / exercise.module
        sources |= {p for p in _files(folder) if p.suffix in (".py", ".diff", ".toml")}
    return sorted(p for p in sources if p.is_file())


SHIPPED_CODE = ("exercises/", "workbook/", "tests/")  # public by design: stubs, CLI, slices


def leaks(edition: Path, catalog: Catalog) -> list[Leak]:
    """Runs of LEAK_RUN significant lines in the edition's pages that only hidden files hold.

    Stubs, the CLI, the catalog and the public slices ship on purpose; a line they contain
    is public.  Every other file of the edition (lessons, snippets, notebooks) is scanned.
    """
    root = catalog.root
    shipped = [
        p for p in _files(edition) if p.relative_to(edition).as_posix().startswith(SHIPPED_CODE)
    ]
    public = {text for _, text in _significant_lines([*shipped, edition / FILENAME])}
    hidden: dict[str, str] = {}
    for path, text in _significant_lines(_hidden_sources(catalog)):
        if text not in public:
            hidden.setdefault(text, path.relative_to(root).as_posix())
    found: list[Leak] = []
    for path in _files(edition):
        relative = path.relative_to(edition).as_posix()
        if relative.startswith(SHIPPED_CODE) or relative == FILENAME:
            continue
        run: list[tuple[str, str]] = []
        for where, line in _text_lines(path):
            significant = _significant(line)
            if significant is None:
                continue
            text = significant
            if text not in hidden:
                run = []
                continue
            run.append((where, text))
            if len(run) == LEAK_RUN:
                first, first_text = run[0]
                found.append(Leak(relative, first, hidden[first_text], first_text))
    return found


# -- writing the edition -----------------------------------------------------------------


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)


def _student_catalog(root: Path) -> str:
    text = (root / FILENAME).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    if "edition" in data:
        raise ReleaseError([f"{FILENAME}: it is already a student edition"])
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("format_version"))
    lines.insert(at + 1, 'edition = "student"\n')
    return "".join(lines)


STUDENT_README = """# {title}

This is the student edition of the workbook: lessons, notebooks and the exercises you
complete, with the `workbook` command that checks them.

```bash
python3 bootstrap.py start   # set up, then start the workbook
```

`workbook check` runs the public checks that come with each exercise: a few of its
requirements, so you can try your file. Your instructor grades it with every requirement,
these included. `workbook hint` reveals hints one level at a time, and `workbook docs` serves
the lessons.

Edit the files under `exercises/` (and the notebooks, as you like). The other files are
listed with their SHA-256 in `{manifest}`: grading uses the instructor's copies of them, and a
file that differs is reported.
"""


def write(catalog: Catalog, destination: Path, *, require_verified: bool = True) -> list[str]:
    """Write the student edition to ``destination`` (a new or empty folder); its file list."""
    root = catalog.root
    problems: list[str] = []
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        problems.append(f"{destination} exists and is not empty: release into a new folder")
    if destination.resolve().is_relative_to(root.resolve()):
        problems.append(f"{destination} is inside the workbook: release outside it")
    if require_verified and not verified(root):
        problems.append(
            "the workbook has changed since it last verified green as a whole: "
            "run `workbook verify` (every exercise) first"
        )
    if problems:
        raise ReleaseError(problems)
    with tempfile.TemporaryDirectory(prefix="workbook-release-") as scratch:
        edition = Path(scratch) / "edition"
        _build(catalog, edition)
        found = leaks(edition, catalog)
        if found:
            raise ReleaseError(
                [
                    f"{leak.path}:{leak.line} repeats {leak.source}, which students must not "
                    f"see: {leak.text}"
                    for leak in found
                ]
            )
        destination.mkdir(parents=True, exist_ok=True)
        for path in _files(edition):
            _copy(path, destination / path.relative_to(edition))
        _copy(edition / MANIFEST, root / KEPT_MANIFEST)
    return sorted(p.relative_to(destination).as_posix() for p in _files(destination))


def _build(catalog: Catalog, edition: Path) -> None:
    root = catalog.root
    for name in SHIPPED_FILES:
        if (root / name).is_file():
            _copy(root / name, edition / name)
    for tree in SHIPPED_TREES:
        for path in _files(root / tree):
            _copy(path, edition / path.relative_to(root))
    (edition / FILENAME).write_text(_student_catalog(root), encoding="utf-8")
    (edition / "README.md").write_text(
        STUDENT_README.format(title=catalog.title, manifest=MANIFEST), encoding="utf-8"
    )
    problems: list[str] = []
    for exercise in catalog.exercises:
        suite = exercise.suite(root)
        try:
            text = public_slice(suite.read_text(encoding="utf-8"), exercise)
        except ReleaseError as exc:
            problems += exc.problems
            continue
        target = edition / suite.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        for helper in _helpers_used(suite, text):
            _copy(helper, edition / helper.relative_to(root))
    if problems:
        raise ReleaseError(problems)
    _write_manifest(edition)


def _write_manifest(edition: Path) -> None:
    rows = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {relative}"
        for path in _files(edition)
        if not (relative := path.relative_to(edition).as_posix()).startswith(UNLOCKED)
    ]
    (edition / MANIFEST).write_text("\n".join(rows) + "\n", encoding="utf-8")
