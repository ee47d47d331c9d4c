"""``workbook autograder DEST``: what Gradescope and GitHub Classroom need to grade with us.

Both platforms get the same *grader*: the catalog, stubs, reference solutions, hidden
suites (without the known-wrong variants and mutants, which only ``verify`` uses), the
lessons and notebooks the catalog names, the ``workbook`` package, the lock file, and the
release manifest the instructor kept (``LOCKED.sha256``).  It grades with
``workbook grade``, so a submission's own tests, conftest and config never apply.

- ``DEST/gradescope/`` (and ``DEST/gradescope.zip``, its files at the root): the grader
  plus ``setup.sh`` (run once, as root, on Gradescope's Ubuntu base image: installs uv,
  the instructor's Python version and the locked dependencies into ``/autograder/source/.venv``)
  and ``run_autograder`` (grades ``/autograder/submission`` into
  ``/autograder/results/results.json``).
- ``DEST/github-classroom/``: ``grader/`` for a private repository of the instructor's, and
  ``template/.github/workflows/classroom.yml`` for the assignment's template repository:
  it checks the grader out with a token, grades the student's repository and hands the
  result to GitHub Classroom's reporter.

The bundle holds hidden suites and solutions: it is written outside the workbook, so it
can never be committed with it or shipped in a student edition.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import workbook
from workbook import catalog as catalog_module
from workbook.autograder_files import (
    CLASSROOM_README,
    FALLBACK,
    GRADESCOPE_README,
    MANIFEST_KEPT,
    MANIFEST_MISSING,
    NO_TOOLING,
    RUN_AUTOGRADER,
    SETUP_SH,
    WORKFLOW,
)
from workbook.catalog import FILENAME, Catalog
from workbook.release import KEPT_MANIFEST, MANIFEST, SKIPPED_PARTS

PLATFORMS = ("gradescope", "github-classroom", "both")
AUTHORS_ONLY = {"wrong", "mutants"}  # verify's material: never needed to grade
TOOLING = ("pyproject.toml", "uv.lock")
EXECUTABLE = 0o755
DEFAULT_UV = "0.13.9"
WORKFLOW_PATH = "template/.github/workflows/classroom.yml"


class AutograderError(Exception):
    """The bundle cannot be written; ``problems`` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def uv_version(root: Path) -> str:
    """The uv the workbook pins (its ``bootstrap`` dependency group)."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return DEFAULT_UV
    for requirement in data.get("dependency-groups", {}).get("bootstrap", []):
        if isinstance(requirement, str) and requirement.startswith("uv=="):
            return requirement.removeprefix("uv==")
    return DEFAULT_UV


def grader_files(catalog: Catalog) -> dict[str, Path]:
    """Every file the grader needs, by its path in the bundle."""
    root = catalog.root
    files: dict[str, Path] = {}

    def add(path: Path) -> None:
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path

    def tree(top: Path, skipped: set[str] = SKIPPED_PARTS) -> None:
        for path in sorted(top.rglob("*")) if top.is_dir() else []:
            if not skipped & set(path.relative_to(top).parts):
                add(path)

    for name in (FILENAME, *TOOLING):
        add(root / name)
    for module in catalog.modules:
        add(root / module.lesson)
        add(root / module.notebook)
    for folder in ("exercises", "solutions"):
        tree(root / folder)
    package = root / "workbook"
    if package.is_dir():
        tree(package)
    else:  # a catalog beside no package of its own: bundle the grader that runs now
        running = Path(workbook.__file__).parent
        for path in sorted(running.rglob("*")):
            if path.is_file() and not SKIPPED_PARTS & set(path.parts):
                files[f"workbook/{path.relative_to(running).as_posix()}"] = path
    for suites in sorted({e.suite(root).parent for e in catalog.exercises}):
        tree(suites, SKIPPED_PARTS | AUTHORS_ONLY)
    return files


def _write(path: Path, text: str, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mode is not None:
        path.chmod(mode)


def _grader(catalog: Catalog, destination: Path, readme: str) -> None:
    for relative, source in grader_files(catalog).items():
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    kept = catalog.root / KEPT_MANIFEST
    if kept.is_file():
        shutil.copy2(kept, destination / MANIFEST)
    _write(destination / "README.md", readme)


def _zip(folder: Path, archive: Path) -> None:
    """Zip the folder's files at the archive's root, keeping the executable bits."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            info = zipfile.ZipInfo.from_file(path, path.relative_to(folder).as_posix())
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (stat.S_IFREG | stat.S_IMODE(path.stat().st_mode)) << 16
            bundle.writestr(info, path.read_bytes())


def problems_with(catalog: Catalog, destination: Path, platform: str) -> list[str]:
    problems = []
    if platform not in PLATFORMS:
        problems.append(f"--platform must be one of: {', '.join(PLATFORMS)}")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        problems.append(f"{destination} exists and is not empty: write the bundle to a new folder")
    if destination.resolve().is_relative_to(catalog.root.resolve()):
        problems.append(
            f"{destination} is inside the workbook: the bundle holds hidden suites and "
            "solutions, so write it outside, where it cannot be committed or released"
        )
    return problems


@dataclass
class Bundle:
    written: list[str] = field(default_factory=list)  # relative to the destination
    warnings: list[str] = field(default_factory=list)


def write(catalog: Catalog, destination: Path, platform: str = "both") -> Bundle:
    """Write the bundle(s) for ``platform`` to ``destination``: all of it, or nothing."""
    problems = problems_with(catalog, destination, platform)
    if problems:
        raise AutograderError(problems)
    bundle = Bundle()
    with tempfile.TemporaryDirectory(prefix="workbook-autograder-") as scratch:
        built = Path(scratch)
        if platform in ("gradescope", "both"):
            bundle.written += _gradescope(catalog, built)
        if platform in ("github-classroom", "both"):
            bundle.written += _classroom(catalog, built)
        destination.mkdir(parents=True, exist_ok=True)
        for entry in sorted(built.iterdir()):
            shutil.move(entry, destination / entry.name)
    missing = [name for name in TOOLING if not (catalog.root / name).is_file()]
    if missing:
        bundle.warnings.append(NO_TOOLING.format(files=" and ".join(missing)))
    if not (catalog.root / KEPT_MANIFEST).is_file():
        bundle.warnings.append(MANIFEST_MISSING)
    return bundle


def _versions(catalog: Catalog) -> dict[str, str]:
    """The Python this grader runs on (the one the instructor verified with) and uv's."""
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "uv_installer": f"https://astral.sh/uv/{uv_version(catalog.root)}/install.sh",
    }


def _manifest_note(catalog: Catalog) -> str:
    return MANIFEST_KEPT if (catalog.root / KEPT_MANIFEST).is_file() else MANIFEST_MISSING


def _gradescope(catalog: Catalog, built: Path) -> list[str]:
    folder = built / "gradescope"
    note = _manifest_note(catalog)
    _grader(catalog, folder, GRADESCOPE_README.format(title=catalog.title, manifest_note=note))
    setup = SETUP_SH.format(first=catalog.exercises[0].id, **_versions(catalog))
    _write(folder / "setup.sh", setup, EXECUTABLE)
    run = RUN_AUTOGRADER.format(manifest=MANIFEST, fallback=FALLBACK)
    _write(folder / "run_autograder", run, EXECUTABLE)
    _check(folder)
    _zip(folder, built / "gradescope.zip")
    return ["gradescope/", "gradescope.zip"]


def _classroom(catalog: Catalog, built: Path) -> list[str]:
    folder = built / "github-classroom"
    readme = CLASSROOM_README.format(title=catalog.title, manifest_note=_manifest_note(catalog))
    _grader(catalog, folder / "grader", readme)
    _check(folder / "grader")
    kept = (catalog.root / KEPT_MANIFEST).is_file()
    flag = f" --manifest grader/{MANIFEST}" if kept else ""
    _write(folder / WORKFLOW_PATH, WORKFLOW.format(manifest=flag, **_versions(catalog)))
    _write(folder / "README.md", readme)
    return ["github-classroom/grader/", f"github-classroom/{WORKFLOW_PATH}"]


def _check(bundle: Path) -> None:
    """The bundle's catalog loads on its own: nothing it names was left behind."""
    try:
        catalog_module.load(bundle)
    except catalog_module.CatalogError as exc:
        raise AutograderError([f"the bundle in {bundle} is incomplete:", *exc.problems]) from None
    if os.name != "nt":
        for script in ("setup.sh", "run_autograder"):
            path = bundle / script
            if path.exists() and not os.access(path, os.X_OK):
                raise AutograderError([f"{path} is not executable"])
