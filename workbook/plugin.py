"""Pytest plugin: the fixtures every hidden suite is written against.

``exercise`` is the module under test, loaded by path from the target tree
(``--target exercises|solutions|DIR``, default ``solutions``, or ``exercises`` in a student
edition, which has no solutions; ``--target-file`` grades one
file, such as a known-wrong variant).  ``reference`` is always the reference solution.
A suite lives at ``tests/NN_module/test_NN_name.py`` and grades ``NN_module/NN_name``.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from pathlib import Path
from types import ModuleType

import pytest

from workbook import loader, messages
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
RUN_FIRST_HELP = (
    "run this check first (a test function's name with its parameters; repeat the option "
    "for several, in order): the mutation gate tries the checks that killed earlier mutants"
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
    group.addoption("--run-first", action="append", default=[], help=RUN_FIRST_HELP)
    group.addoption("--workbook-channel", type=int, default=None, help=CHANNEL_HELP)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", STUB_MAY_PASS)
    config.addinivalue_line("markers", REQUIRES)
    config.stash[BROKEN] = {}
    fd = config.getoption("--workbook-channel")
    if fd is not None:
        from workbook import channel, guard
        from workbook.reporting import ChannelReporter

        reporter = ChannelReporter(fd, channel.receive_key(fd))
        config.pluginmanager.register(reporter, "workbook-channel")
        reporter.guard = guard.Guard(
            reporter.flag, guard.trusted_roots([config.rootpath / "tests"])
        )
        reporter.guard.install()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    first = {name: rank for rank, name in enumerate(config.getoption("--run-first"))}
    if first:  # a stable sort: the named checks in the order given, then the rest as written
        items.sort(key=lambda item: first.get(item.name, len(first)))
    if not config.getoption("--services-only"):
        return
    keep = [item for item in items if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ()))]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Skip a later step of a chain, naming the earlier requirement that did not pass.

    A check that did not run in this process (deselected, or on another xdist worker) does
    not hold the step back: only a failure seen here does.  An exit in a fixture fails the
    check (see :func:`_exits_fail`).
    """
    marker = item.get_closest_marker("requires")
    broken = item.config.stash[BROKEN]
    for name in marker.args if marker is not None else ():
        first = broken.get((item.path, name))
        if first is not None:
            name = getattr(item, "originalname", item.name)
            broken.setdefault((item.path, name), first)  # a step after this one names the root
            pytest.skip(f"not checked: “{first}” failed first")
    return (yield from _exits_fail())


def _exit_as_failure(exc: BaseException) -> BaseException:
    """What a test phase should raise for ``exc``: a failure, if the code under test exited.

    SystemExit, KeyboardInterrupt and GeneratorExit are no failures to pytest: the first
    shows as a bare traceback, the second stops the whole run.  Raised by the learner's
    code, each is a failure of the check that ran it, in words the learner can act on, and
    the next check runs.  pytest's own skip, fail and xfail, and a KeyboardInterrupt a
    signal delivered, pass through (see :func:`workbook.testing.exit_failure`).
    """
    if isinstance(exc, Exception):
        return exc
    failure = getattr(exc, "workbook_failure", None)  # the same exit again: the same failure
    if failure is None:
        from workbook.testing import exit_failure

        failure = exit_failure(exc)
        if failure is None:
            return exc
        exc.workbook_failure = failure  # type: ignore[attr-defined]
    return failure


def _exits_fail() -> Generator[None, None, None]:
    try:
        return (yield)
    except BaseException as exc:
        failure = _exit_as_failure(exc)
        if failure is exc:
            raise
        raise failure from exc


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[object], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """An exit in a fixture fails every check that uses it, as an error would.

    pytest keeps a fixture's error for the checks after the first only when it is an
    ``Exception``; the failure an exit becomes is kept the same way.
    """
    try:
        return (yield)
    except BaseException as exc:
        failure = _exit_as_failure(exc)
        if failure is exc:
            raise
        try:
            raise failure from exc
        finally:
            key = fixturedef.cache_key(request)  # type: ignore[arg-type]
            fixturedef.cached_result = (None, key, (failure, failure.__traceback__))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _exits_fail())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _exits_fail())


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
    return _load(path)


def _load(path: Path) -> ModuleType:
    """:func:`loader.load`, where an exit at import time is an import problem too."""
    try:
        return loader.load(path)
    except Exception:
        raise
    except BaseException as exc:
        from workbook.testing import exit_failure

        failure = exit_failure(exc, messages.EXITED_IMPORTING)
        if failure is None:
            raise
        sys.modules.pop(loader.module_name(path), None)
        source = loader.source_path(path)
        line = loader._import_error(exc, source).line
        message = messages.IMPORT_EXITED.format(failure=failure.message)
        raise loader.LoadError(message, path=source, line=line) from None


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
