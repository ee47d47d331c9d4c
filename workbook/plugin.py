"""Pytest plugin: the fixtures every hidden suite is written against.

``exercise`` is the module under test, loaded by path from the target tree
(``--target exercises|solutions|DIR``, default ``solutions``, or ``exercises`` in a student
edition, which has no solutions; ``--target-file`` grades one
file, such as a known-wrong variant).  ``reference`` is always the reference solution.
A suite lives at ``tests/NN_module/test_NN_name.py`` and grades ``NN_module/NN_name``.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from types import ModuleType

import pytest

from workbook import loader
from workbook.services import database_url, redis_url  # noqa: F401  (fixtures for every suite)

TARGET_HELP = "tree whose exercises are graded: 'exercises', 'solutions' or a folder"
TARGET_FILE_HELP = "grade this file (or package folder) instead of the target tree's"
SEEDED_HELP = (
    "a write-the-tests suite grades its tests against this bug-seeded app only "
    "(the author's mutation gate)"
)
SERVICES_ONLY_HELP = (
    "run only the checks that use a database or Redis (CI runs them again on real servers)"
)
SERVICE_FIXTURES = frozenset({"database_url", "redis_url"})
CHANNEL_HELP = "file descriptor for the grader's result stream (set by the runner)"
STUB_MAY_PASS = (
    "stub_may_pass(reason): this requirement may hold on the untouched stub, for the reason given"
)
REQUIRES = (
    "requires(*names): a later step of a chain, not checked when a check it builds on "
    "(a test of the same file, by function name) failed or was not checked"
)
CATALOG = "curriculum.toml"
BROKEN = pytest.StashKey[dict[tuple[Path, str], str]]()
"""Per file and test function name: the requirement of a check that did not pass."""

TARGETS: set[Path] = set()
"""Files or package folders loaded as ``exercise``: a traceback frame in one is the learner's."""


class GraderProblem(Exception):
    """A file of the grader's own (a reference solution) is broken: never the learner's fault."""


def load_reference(path: Path) -> ModuleType:
    try:
        return loader.load(path)
    except loader.LoadError as exc:
        where = f"{exc.path}, line {exc.line}" if exc.line else str(exc.path)
        message = f"the reference solution {where} does not load: {exc.message}"
        raise GraderProblem(message) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("workbook", "FastAPI Pro Workbook")
    group.addoption("--target", default=None, help=TARGET_HELP)
    group.addoption("--target-file", default=None, help=TARGET_FILE_HELP)
    group.addoption("--seeded-app", default=None, help=SEEDED_HELP)
    group.addoption("--services-only", action="store_true", help=SERVICES_ONLY_HELP)
    group.addoption("--workbook-channel", type=int, default=None, help=CHANNEL_HELP)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", STUB_MAY_PASS)
    config.addinivalue_line("markers", REQUIRES)
    config.stash[BROKEN] = {}
    fd = config.getoption("--workbook-channel")
    if fd is not None:
        from workbook.reporting import ChannelReporter

        config.pluginmanager.register(ChannelReporter(fd), "workbook-channel")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--services-only"):
        return
    keep = [item for item in items if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ()))]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a later step of a chain, naming the earlier requirement that did not pass.

    A check that did not run in this process (deselected, or on another xdist worker) does
    not hold the step back: only a failure seen here does.
    """
    marker = item.get_closest_marker("requires")
    if marker is None:
        return
    broken = item.config.stash[BROKEN]
    for name in marker.args:
        first = broken.get((item.path, name))
        if first is not None:
            name = getattr(item, "originalname", item.name)
            broken.setdefault((item.path, name), first)  # a step after this one names the root
            pytest.skip(f"not checked: “{first}” failed first")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        from workbook.reporting import requirement

        name = getattr(item, "originalname", item.name)
        item.config.stash[BROKEN].setdefault((item.path, name), requirement(item))
    return report


def find_root(start: Path) -> Path:
    """The workbook root: the nearest folder at or above ``start`` holding the catalog."""
    for folder in (start, *start.parents):
        if (folder / CATALOG).is_file():
            return folder
    raise pytest.UsageError(f"no {CATALOG} found above {start}")


def exercise_path(suite: Path, tree: Path) -> Path:
    """Where the exercise graded by ``suite`` lives in ``tree``: a file or a package folder."""
    name = suite.stem.removeprefix("test_")
    folder = tree / suite.parent.name
    package = folder / name
    return package if package.is_dir() else folder / f"{name}.py"


def _tree(config: pytest.Config, root: Path) -> Path:
    chosen = config.getoption("--target")
    if chosen is None:  # the reference where there is one: a student edition has none
        return root / "solutions" if (root / "solutions").is_dir() else root / "exercises"
    target = Path(chosen)
    return target if target.is_absolute() else root / target


@pytest.fixture(scope="module")
def exercise(request: pytest.FixtureRequest) -> ModuleType:
    """The module under test: the learner's file, a solution, or a chosen variant."""
    suite = request.path
    chosen = request.config.getoption("--target-file")
    root = find_root(suite.parent)
    tree = _tree(request.config, root)
    path = Path(chosen).resolve() if chosen else exercise_path(suite, tree)
    TARGETS.add(path)
    if path.is_relative_to(root / "solutions"):
        return load_reference(path)
    return loader.load(path)


def seeded_apps(config: pytest.Config, planted: list[Path]) -> list[Path]:
    """The bug-seeded apps a write-the-tests suite grades against: its own, or the one given."""
    chosen = config.getoption("--seeded-app")
    return [Path(chosen).resolve()] if chosen else planted


@pytest.fixture(scope="module")
def reference(request: pytest.FixtureRequest) -> ModuleType:
    """The reference solution of the exercise under test, for differential checks."""
    suite = request.path
    root = find_root(suite.parent)
    return load_reference(exercise_path(suite, root / "solutions"))
