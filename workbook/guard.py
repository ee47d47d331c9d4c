"""Inside a grading child: notice code under test that reaches into the grader at run time.

The learner's code runs in the same interpreter as pytest and the reporter, so nothing in
the process is out of its reach: what this module gives is evidence, not a wall.

- An audit hook (PEP 578; once added it cannot be removed) reports the calls that reach
  the interpreter's insides (gc's walks over every object, frames, ctypes, tracing, other
  audit hooks) when the Python code that makes the call is not the grader's, a library's
  or the standard library's.  Code built from a string at run time counts as the
  learner's.
- A snapshot of the functions and classes of the grader's machinery (pytest, pluggy, the
  workbook, ``os``, ``json``, ``hmac``, ``builtins``) is compared after every check:
  an outcome rewritten by patching them is seen as a change, whatever route made it.

The reporter sends what is found to the parent; ``workbook grade`` flags the exercise for
the instructor, ``check`` tells the learner, ``verify`` refuses a reference that trips it.
"""

from __future__ import annotations

import sys
import sysconfig
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import BuiltinFunctionType, FrameType, FunctionType, ModuleType
from typing import Any

FRAMES = "walks the interpreter's frames"
WATCHED = {
    "gc.get_objects": "walks every object in the interpreter (gc.get_objects)",
    "gc.get_referrers": "walks the interpreter's objects (gc.get_referrers)",
    "gc.get_referents": "walks the interpreter's objects (gc.get_referents)",
    "sys._getframe": f"{FRAMES} (sys._getframe)",
    "sys._current_frames": f"{FRAMES} (sys._current_frames)",
    "sys.settrace": "traces the interpreter (sys.settrace)",
    "sys.setprofile": "traces the interpreter (sys.setprofile)",
    "sys.addaudithook": "adds an audit hook of its own",
}
FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame"}
PASS_THROUGH = ("ctypes/", "inspect.py")
"""Standard-library wrappers around the watched calls: the code that called them counts."""
CTYPES = "reaches into the interpreter's memory with ctypes ({event})"
GUARDED_MODULES = ("pytest", "os", "posix", "json", "hmac", "builtins")
GUARDED_PACKAGES = ("_pytest.", "pluggy.", "workbook.")
CHANGED = "changes the grader's own code at run time ({names})"
SHOWN = 3

Report = Callable[[str, str, int], None]
"""``report(reason, file, line)``: the file and line of the code that made the call."""


def trusted_roots(extra: Iterable[Path]) -> tuple[str, ...]:
    """Folders whose code is not the learner's: the standard library, installed packages,
    the workbook package and the instructor's suites."""
    paths = sysconfig.get_paths()
    folders = {paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    folders.add(str(Path(__file__).resolve().parent))
    folders |= {str(Path(p).resolve()) for p in extra}
    return tuple(f.rstrip("/") + "/" for f in sorted(folders))


class Guard:
    """The audit hook and the snapshot for one grading child."""

    def __init__(self, report: Report, trusted: tuple[str, ...]) -> None:
        self._report = report
        self._trusted = trusted
        stdlib = sysconfig.get_paths()["stdlib"]
        self._passing = tuple(f"{stdlib}/{name}" for name in PASS_THROUGH)
        self._busy = threading.local()
        self._seen: set[tuple[str, str, int]] = set()
        self._verdicts: dict[str, bool] = {}
        self._snapshot: list[tuple[Any, str, object]] = []
        self._members: list[tuple[type, frozenset[str]]] = []

    # -- the audit hook --------------------------------------------------------------

    def install(self) -> None:
        sys.addaudithook(self._hook)

    def take_snapshot(self) -> None:
        """Remember the grader's functions and classes as they are before learner code runs."""
        modules = _guarded_modules()
        self._snapshot = list(_entries(modules))
        self._members = [(cls, frozenset(vars(cls))) for cls in _classes(modules)]

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "object.__getattr__":
            if len(args) < 2 or args[1] not in FRAME_ATTRIBUTES:
                return
            reason = f"{FRAMES} (.{args[1]})"
        elif event in WATCHED:
            reason = WATCHED[event]
        elif event.startswith("ctypes."):
            reason = CTYPES.format(event=event)
        else:
            return
        if getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            self._check_caller(reason)
        finally:
            self._busy.on = False

    def _check_caller(self, reason: str) -> None:
        frame: FrameType | None = sys._getframe(2)  # 0: here, 1: the hook, 2: the caller
        while frame is not None and frame.f_code.co_filename.startswith(self._passing):
            frame = frame.f_back  # a wrapper such as ctypes.string_at: whoever called it
        if frame is None:
            return
        filename = frame.f_code.co_filename
        if self._is_trusted(filename):
            return
        key = (reason, filename, frame.f_lineno)
        if key not in self._seen:
            self._seen.add(key)
            self._report(reason, filename, frame.f_lineno)

    def _is_trusted(self, filename: str) -> bool:
        verdict = self._verdicts.get(filename)
        if verdict is None:
            if filename.startswith("<frozen "):
                verdict = True
            elif filename.startswith("<"):
                verdict = False  # code built from a string: the learner's, for all we know
            else:
                resolved = str(Path(filename).resolve())
                verdict = resolved.startswith(self._trusted)
            self._verdicts[filename] = verdict
        return verdict

    # -- the snapshot ----------------------------------------------------------------

    def changed(self) -> str | None:
        """The grader's functions and classes that are no longer what they were, if any."""
        names = [
            f"{_name(owner)}.{name}"
            for owner, name, value in self._snapshot
            if owner.__dict__.get(name) is not value
        ]
        for cls, members in self._members:
            if len(vars(cls)) != len(members):  # a member added (or taken away)
                names += [f"{_name(cls)}.{name}" for name in sorted(set(vars(cls)) ^ members)]
        if not names:
            return None
        shown = ", ".join(names[:SHOWN])
        if len(names) > SHOWN:
            shown += f" and {len(names) - SHOWN} more"
        return CHANGED.format(names=shown)


def _guarded_modules() -> list[ModuleType]:
    modules = []
    for name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType):
            continue
        if name in GUARDED_MODULES or name.startswith(GUARDED_PACKAGES):
            modules.append(module)
    return modules


def _name(owner: Any) -> str:
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}"
    return str(getattr(owner, "__name__", "?"))


def _classes(modules: list[ModuleType]) -> list[type]:
    """The classes the guarded modules define (not those they import)."""
    found: dict[int, type] = {}
    for module in modules:
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == module.__name__:
                found[id(value)] = value
    return list(found.values())


def _entries(modules: list[ModuleType]) -> Iterable[tuple[Any, str, object]]:
    """(owner, name, value) for every function and class a guarded module holds, and for
    every function of the classes it defines."""
    for module in modules:
        for name, value in list(vars(module).items()):
            if isinstance(value, FunctionType | BuiltinFunctionType | type):
                yield module, name, value
    for cls in _classes(modules):
        for name, value in list(vars(cls).items()):
            if isinstance(value, FunctionType | classmethod | staticmethod | property):
                yield cls, name, value
