"""What a submission changed that it must not, and learner code that reaches for the grader.

Two checks for ``workbook grade``.  Locked files: each file of the instructor's release
manifest is compared with the submission's copy, and each that differs is reported (the
grade uses the instructor's copies, never the submission's).  Exercise files: a static scan
(``ast``) for code that could reach into the grading process rather than answer the
exercise: imports of pytest's or the grader's internals (beyond what the exercise's own
stub and solution import), writes to ``sys.modules``, patches of ``builtins``, ``os._exit``,
``atexit``, frame walking, raw writes to file descriptors.
"""

from __future__ import annotations

import ast
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from workbook.release import SKIPPED_PARTS, UNLOCKED

IGNORED_PARTS = SKIPPED_PARTS | {".git", ".venv", "venv", ".workbook", ".mypy_cache", ".ruff_cache"}
CONFIG_SUFFIXES = (".py", ".pth", ".ini", ".cfg", ".toml")  # an added one could steer a run

SUSPECT_MODULES = (
    *("_pytest", "pytest", "pluggy", "conftest", "workbook"),  # the grader's machinery
    *("atexit", "builtins", "ctypes", "gc"),  # the interpreter's
)
SUSPECT_CALLS = {
    "os._exit": "ends the grading process at once (os._exit)",
    "os.write": "writes to a raw file descriptor (os.write)",
    "os.fdopen": "opens a raw file descriptor (os.fdopen)",
    "os.dup2": "redirects a file descriptor (os.dup2)",
    "os.kill": "sends signals to processes (os.kill)",
    "os.killpg": "sends signals to processes (os.killpg)",
    "sys._getframe": "walks the interpreter's frames (sys._getframe)",
    "sys.settrace": "traces the interpreter (sys.settrace)",
    "sys.setprofile": "traces the interpreter (sys.setprofile)",
    "inspect.currentframe": "walks the interpreter's frames (inspect.currentframe)",
    "inspect.stack": "walks the interpreter's frames (inspect.stack)",
    "inspect.getouterframes": "walks the interpreter's frames (inspect.getouterframes)",
}
DYNAMIC_IMPORTS = {"__import__", "importlib.import_module", "importlib.__import__"}
FRAME_ATTRIBUTES = {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame"}
PATCHED = {"builtins", "sys.modules", "__builtins__"}
MODULES_MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__"}


@dataclass(frozen=True)
class Finding:
    """A locked file of the submission that is not the released one."""

    path: str
    status: str  # modified | missing | added


@dataclass(frozen=True)
class Flag:
    """A line of an exercise file that reaches for the grader."""

    path: str
    line: int
    reason: str


# -- locked files ------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, str]:
    """``LOCKED.sha256`` as {relative path: sha256}."""
    rows: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if digest and name:
            rows[name] = digest
    return rows


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locked_changes(root: Path, manifest: dict[str, str]) -> list[Finding]:
    """Locked files that differ, are missing or were added beside them (config or code)."""
    findings = []
    for name, digest in sorted(manifest.items()):
        path = root / name
        if path.is_symlink() or not path.is_file():
            findings.append(Finding(name, "missing"))
        elif _digest(path) != digest:
            findings.append(Finding(name, "modified"))
    for relative in _added(root, manifest):
        findings.append(Finding(relative, "added"))
    return findings


def _added(root: Path, manifest: dict[str, str]) -> list[str]:
    """Code and config files outside the student's folders that the release did not hold."""
    found = []
    for folder, subfolders, names in os.walk(root):  # links to folders are not followed
        here = Path(folder).relative_to(root)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in IGNORED_PARTS and not f"{(here / name).as_posix()}/".startswith(UNLOCKED)
        )
        for name in sorted(names):
            relative = (here / name).as_posix()
            if name.endswith(CONFIG_SUFFIXES) and relative not in manifest:
                found.append(relative)
    return found


# -- exercise files ----------------------------------------------------------------------


def imported_modules(sources: list[str]) -> set[str]:
    """Every module the given sources import (full dotted names): what the exercise allows."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return names


def _suspect(module: str, allowed: set[str]) -> bool:
    if module in allowed:
        return False
    return any(module == s or module.startswith(s + ".") for s in SUSPECT_MODULES)


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, allowed: set[str]) -> None:
        self.path = path
        self.allowed = allowed
        self.aliases: dict[str, str] = {}
        self.flags: list[Flag] = []

    def flag(self, node: ast.AST, reason: str) -> None:
        self.flags.append(Flag(self.path, getattr(node, "lineno", 0), reason))

    def dotted(self, node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            return f"{self.dotted(node.value)}.{node.attr}"
        return ""

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )
            if _suspect(alias.name, self.allowed):
                self.flag(node, f"imports {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            return
        for alias in node.names:
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
        if _suspect(module, self.allowed):
            self.flag(node, f"imports {module}")

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func)
        if name in SUSPECT_CALLS:
            self.flag(node, SUSPECT_CALLS[name])
        elif name in DYNAMIC_IMPORTS:
            first = node.args[0] if node.args else None
            module = first.value if isinstance(first, ast.Constant) else None
            if not isinstance(module, str):
                self.flag(node, "imports a module whose name is computed at run time")
            elif _suspect(module, self.allowed):
                self.flag(node, f"imports {module}")
        elif name in ("setattr", "delattr") and node.args and self.dotted(node.args[0]) in PATCHED:
            self.flag(node, f"patches {self.dotted(node.args[0])}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.dotted(node)
        if node.attr in FRAME_ATTRIBUTES:
            self.flag(node, f"walks the interpreter's frames (.{node.attr})")
        elif name.startswith("builtins.") and isinstance(node.ctx, ast.Store | ast.Del):
            self.flag(node, f"patches {name}")
        elif name.startswith("sys.modules.") and node.attr in MODULES_MUTATORS:
            self.flag(node, "changes sys.modules")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if self.dotted(node.value) == "sys.modules" and isinstance(node.ctx, ast.Store | ast.Del):
            self.flag(node, "changes sys.modules")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.flag(node, "reaches for __builtins__")


def scan(path: str, source: str, allowed: set[str]) -> list[Flag]:
    """Lines of ``source`` that reach for the grader; ``allowed``: modules the stub imports."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # it fails to import, and the grade says so
    scanner = _Scanner(path, allowed)
    scanner.visit(tree)
    return scanner.flags
