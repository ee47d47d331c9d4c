"""Student submissions for ``workbook grade``: a folder, a zip or a git repository.

Each is opened into a folder: a folder as it is, a zip extracted safely (no absolute or
``..`` paths, no links, a size cap), a git URL (or a bare path ending in ``.git``) cloned
with depth 1.  Nothing here trusts the submission; a problem is reported for that
submission alone, never raised past the batch.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import stat
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_ZIP_BYTES = 256 * 1024 * 1024
MAX_ZIP_MEMBERS = 20_000
CLONE_TIMEOUT_S = 300
IGNORED_FOLDERS = {"__MACOSX"}
GIT_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
DRIVE = re.compile(r"^[A-Za-z]:")


class SubmissionError(Exception):
    """The submission cannot be opened: the message says why, in the instructor's words."""


@dataclass
class Submission:
    name: str  # the folder's or zip's name: how reports identify it
    source: str  # as given on the command line
    root: Path | None = None  # the folder holding its ``exercises/``; None if not opened
    problem: str = ""


def kind_of(source: str) -> str:
    """``git``, ``zip`` or ``folder``."""
    if GIT_URL.match(source) or source.rstrip("/").endswith(".git"):
        return "git"
    return "zip" if source.lower().endswith(".zip") else "folder"


def name_of(source: str) -> str:
    name = re.split(r"[/:]", source.rstrip("/"))[-1]
    for suffix in (".git", ".zip", ".ZIP"):
        name = name.removesuffix(suffix)
    return re.sub(r"[^\w.-]", "_", name) or "submission"


def open_all(sources: list[str], scratch: Path) -> list[Submission]:
    """Open every submission into ``scratch``; names are made unique in order."""
    seen: dict[str, int] = {}
    opened = []
    for source in sources:
        base = name_of(source)
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base}-{seen[base]}"
        local = not GIT_URL.match(source)  # reports name a local source by its full path
        submission = Submission(name, str(Path(source).resolve()) if local else source)
        try:
            submission.root = _open(source, scratch / "opened" / name)
        except SubmissionError as exc:
            submission.problem = str(exc)
        opened.append(submission)
    return opened


def _open(source: str, destination: Path) -> Path:
    kind = kind_of(source)
    if kind == "git":
        clone(source, destination)
        return find_root(destination)
    path = Path(source)
    if kind == "zip":
        if not path.is_file():
            raise SubmissionError(f"{source}: no such zip file")
        extract_zip(path, destination)
        return find_root(destination)
    if not path.is_dir():
        raise SubmissionError(f"{source}: no such folder")
    return find_root(path.resolve())


def find_root(folder: Path) -> Path:
    """The folder holding ``exercises/``: ``folder`` itself or its one subfolder that does."""
    if (folder / "exercises").is_dir():
        return folder
    inside = [
        child
        for child in sorted(folder.iterdir())
        if child.is_dir() and not child.is_symlink() and child.name not in IGNORED_FOLDERS
        and (child / "exercises").is_dir()
    ]  # fmt: skip
    if len(inside) == 1:
        return inside[0]
    raise SubmissionError(f"{folder.name}: no exercises/ folder in it")


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or DRIVE.match(name):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "a path that climbs out of the archive (..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    return None


def extract_zip(archive: Path, destination: Path, limit: int = MAX_ZIP_BYTES) -> None:
    """Extract ``archive`` into ``destination``, refusing anything unsafe before writing."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise SubmissionError(f"{archive.name}: more than {MAX_ZIP_MEMBERS} files")
            for info in members:
                if (problem := _member_problem(info)) is not None:
                    raise SubmissionError(f"{archive.name}: {info.filename} is {problem}")
            if sum(info.file_size for info in members) > limit:
                raise SubmissionError(f"{archive.name}: more than {limit // 2**20} MB unpacked")
            destination.mkdir(parents=True, exist_ok=True)
            written = 0
            for info in members:
                target = destination / info.filename.replace("\\", "/")
                if not target.resolve().is_relative_to(destination.resolve()):
                    raise SubmissionError(f"{archive.name}: {info.filename} leaves the archive")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, target.open("wb") as sink:
                    while chunk := source.read(1 << 16):
                        written += len(chunk)
                        if written > limit:
                            raise SubmissionError(f"{archive.name}: too large unpacked")
                        sink.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise SubmissionError(f"{archive.name}: not a readable zip ({exc})") from None


def clone(url: str, destination: Path) -> None:
    """``git clone --depth 1``; a local path is cloned through ``file://`` so depth applies."""
    local = Path(url)
    if not GIT_URL.match(url):
        if not local.exists():
            raise SubmissionError(f"{url}: no such repository")
        url = local.resolve().as_uri()
    if shutil.which("git") is None:
        raise SubmissionError(f"{url}: git is not installed")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    command = ["git", "clone", "--quiet", "--depth", "1", "--", url, str(destination)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=CLONE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SubmissionError(f"{url}: git clone failed ({exc})") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise SubmissionError(f"{url}: git clone failed ({detail[0]})")


# -- the exercise files of an opened submission ---------------------------------------------


def exercise_files(root: Path, source: Path) -> list[Path] | None:
    """An exercise's files in a submission; None if absent, [] if a link is on the way.

    A link (the file, a file inside its folder, or a folder above it up to the submission's
    root) could point at anything on the grading machine, the reference solutions included.
    """
    if any(p.is_symlink() for p in (source, *source.parents) if p.is_relative_to(root)):
        return []
    if source.is_file():
        return [source]
    if not source.is_dir():
        return None
    paths = [p for p in sorted(source.rglob("*")) if "__pycache__" not in p.parts]
    if any(p.is_symlink() for p in paths):
        return []
    return [p for p in paths if p.is_file()]


def code_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    return [path] if path.is_file() else []


def _normalised(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return ast.dump(ast.parse(text))
    except SyntaxError:
        return text


def same_code(files: list[Path], source: Path, stub: Path) -> bool:
    """Whether the submitted exercise is the stub, comments and layout aside."""
    stubs = code_files(stub)
    mine = [p for p in files if p.suffix == ".py"]
    if len(mine) != len(stubs):
        return False
    if source.is_file():
        return _normalised(source) == _normalised(stub)
    pairs = zip(mine, stubs, strict=True)
    return all(
        a.relative_to(source) == b.relative_to(stub) and _normalised(a) == _normalised(b)
        for a, b in pairs
    )
