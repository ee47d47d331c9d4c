"""Known-wrong variants kept as unified diffs against their reference solution.

A variant file ``tests/<module>/wrong/<name>__<mistake>.diff`` opens with the sentence
that names the mistake, then the diff, as ``diff -u`` writes it::

    Calls the upstreams one after another.
    --- solutions/01_async_foundations/03_fan_out.py
    +++ wrong/03_fan_out__sequential.py
    @@ -52,12 +52,8 @@
    ...

A diff that no longer applies to the solution (the solution changed under it) is reported
by name, never silently skipped.  Hunks may move (the solution grew above them) but their
lines must match exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class DiffError(Exception):
    """The diff is malformed or no longer applies to the solution."""


@dataclass(frozen=True)
class Hunk:
    start: int  # 1-based line of the original where the hunk's old lines begin
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True)
class Variant:
    path: Path
    sentence: str
    hunks: tuple[Hunk, ...]

    @property
    def name(self) -> str:
        return self.path.stem


def read(path: Path) -> Variant:
    """Parse a variant file; raise :class:`DiffError` if it is not one."""
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("--- ")]
    if not starts or starts[0] + 1 >= len(lines) or not lines[starts[0] + 1].startswith("+++ "):
        raise DiffError(f"{path.name} holds no unified diff (no ---/+++ header)")
    head = [line.strip() for line in lines[: starts[0]] if line.strip()]
    sentence = " ".join(head)
    if not sentence:
        raise DiffError(f"{path.name} needs a sentence naming its mistake above the diff")
    return Variant(path, sentence, _hunks(path, lines[starts[0] + 2 :]))


def _hunks(path: Path, lines: list[str]) -> tuple[Hunk, ...]:
    hunks: list[Hunk] = []
    index = 0
    while index < len(lines):
        match = HUNK.match(lines[index])
        if not match:
            raise DiffError(f"{path.name}: expected a hunk header, not {lines[index]!r}")
        old_count = int(match[2]) if match[2] is not None else 1
        new_count = int(match[4]) if match[4] is not None else 1
        old: list[str] = []
        new: list[str] = []
        index += 1
        while index < len(lines) and (len(old) < old_count or len(new) < new_count):
            line = lines[index]
            index += 1
            if line.startswith("\\"):
                continue  # "\ No newline at end of file"
            tag, text = line[:1], line[1:]
            if tag in (" ", ""):
                old.append(text)
                new.append(text)
            elif tag == "-":
                old.append(text)
            elif tag == "+":
                new.append(text)
            else:
                raise DiffError(f"{path.name}: a hunk line starts with {tag!r}")
        if len(old) != old_count or len(new) != new_count:
            raise DiffError(f"{path.name}: a hunk is shorter than its header says")
        while index < len(lines) and lines[index].startswith("\\"):
            index += 1
        start = int(match[1]) if old_count else int(match[1]) + 1
        hunks.append(Hunk(start, tuple(old), tuple(new)))
    if not hunks:
        raise DiffError(f"{path.name}: the diff changes nothing")
    return tuple(hunks)


def apply(variant: Variant, original: str) -> str:
    """The solution with the variant's hunks applied; :class:`DiffError` if one misses."""
    lines = original.splitlines()
    result: list[str] = []
    position = 0  # lines before this index have been copied or replaced
    offset = 0  # how far the hunks have moved so far
    for number, hunk in enumerate(variant.hunks, 1):
        found = _find(lines, hunk.old, hunk.start - 1 + offset, position)
        if found is None:
            raise DiffError(
                f"{variant.path.name} no longer applies to the solution: hunk {number} "
                f"(line {hunk.start}) does not match; remake the diff against the solution"
            )
        offset = found - (hunk.start - 1)
        result += lines[position:found]
        result += hunk.new
        position = found + len(hunk.old)
    result += lines[position:]
    return "\n".join(result) + "\n"


def _find(lines: list[str], block: tuple[str, ...], expected: int, earliest: int) -> int | None:
    """Where ``block`` occurs, nearest to ``expected``, at or after ``earliest``."""
    size = len(block)
    candidates = [
        start
        for start in range(earliest, len(lines) - size + 1)
        if tuple(lines[start : start + size]) == block
    ]
    return min(candidates, key=lambda start: abs(start - expected), default=None)
