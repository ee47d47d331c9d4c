"""Load an exercise or a solution by path, under a name no other target shares."""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import itertools
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

PRIVATE_PREFIX = "_workbook_target_"


class LoadError(Exception):
    """The learner's file could not be imported: nothing else can be checked."""

    def __init__(self, message: str, *, path: Path, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line


class MissingName(AttributeError):
    """The tests use a name the learner's file does not define."""


def module_name(path: Path) -> str:
    """A unique, importable module name for the file or package at ``path``."""
    stem = re.sub(r"\W", "_", path.stem)
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    return f"{PRIVATE_PREFIX}{stem}_{digest}"


def source_path(path: Path) -> Path:
    """The file to execute: the module itself, or a package's ``__init__.py``."""
    return path / "__init__.py" if path.is_dir() else path


def load(path: Path) -> ModuleType:
    """Import the module or package at ``path``; raise :class:`LoadError` on any failure."""
    name = module_name(path)
    if name in sys.modules:
        return sys.modules[name]
    source = source_path(path)
    if not source.is_file():
        raise LoadError(f"{source} is missing", path=source)
    locations = [str(path)] if path.is_dir() else None
    spec = importlib.util.spec_from_file_location(
        name, source, submodule_search_locations=locations
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise _syntax_error(exc, source) from exc
    except (MemoryError, OSError) as exc:
        del sys.modules[name]
        if isinstance(exc, MemoryError) or exc.errno == errno.EFBIG:
            vars(module).clear()  # free what the file allocated so the report can be sent
            raise  # a limit the grader set: reported as a crash, not an import problem
        raise _import_error(exc, source) from exc
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise _import_error(exc, source) from exc
    if "__getattr__" not in vars(module):
        module.__getattr__ = _missing_name(source)  # type: ignore[method-assign]
    return module


def load_copy(path: Path) -> ModuleType:
    """A new copy of the module file at ``path`` on every call, its module state fresh.

    Unlike :func:`load`, nothing is cached: for lessons' snippets, whose module-level logs
    and counters each test wants empty.  The file's folder is importable while it runs, so
    a snippet may import its neighbours.
    """
    copy = f"{module_name(path)}_copy_{next(_copies)}"
    spec = importlib.util.spec_from_file_location(copy, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


_copies = itertools.count()


def _missing_name(source: Path) -> Any:
    def __getattr__(name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        raise MissingName(
            f"{source.name} defines no `{name}`: the checks use this name, so keep it "
            "(see the contract at the top of the file)"
        )

    return __getattr__


def _syntax_error(exc: SyntaxError, source: Path) -> LoadError:
    detail = exc.msg
    if exc.text:
        caret = " " * max((exc.offset or 1) - 1, 0) + "^"
        detail += f"\n    {exc.text.rstrip()}\n    {caret.rstrip()}"
    return LoadError(f"Python cannot read this file: {detail}", path=source, line=exc.lineno)


def _import_error(exc: BaseException, source: Path) -> LoadError:
    line = None
    frame = exc.__traceback__
    while frame is not None:
        if Path(frame.tb_frame.f_code.co_filename) == source:
            line = frame.tb_lineno
        frame = frame.tb_next
    explanation = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SystemExit):
        explanation = "the file calls exit() while it is imported"
    elif isinstance(exc, NameError):
        explanation += " (is an import missing, or a name misspelled?)"
    elif isinstance(exc, ImportError):
        explanation += " (check the import's spelling and what the package provides)"
    return LoadError(f"importing the file failed: {explanation}", path=source, line=line)
