"""Mutants of a reference solution: small wrong versions its hidden suite must reject.

Cosmic Ray supplies the engine (parso trees, ``mutate_code``) and most operators; ours are
in :mod:`workbook.mutation_operators`.  Its own runner is not used: it mutates files in
place and runs a test command per mutant, while a mutant here must go through the
grader's runner (warm, limited, judged by the same verdict as a learner's file).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cosmic_ray.mutating import mutate_code

from workbook.mutation_operators import NEVER_RAISED, operators


@dataclass(frozen=True)
class Mutant:
    operator: str
    source: str
    diff: str  # the changed lines only, "-old" then "+new", as a survivor is declared
    line: int

    def key(self) -> tuple[str, ...]:
        return diff_key(self.diff)


def diff_key(diff: str) -> tuple[str, ...]:
    """A diff compared by its changed lines, whatever their indentation."""
    return tuple(
        line[0] + " ".join(line[1:].split())
        for line in diff.strip().splitlines()
        if line[:1] in "+- " and line.strip() and not line.startswith(("+++", "---"))
    )


def _changed_lines(before: str, after: str) -> tuple[str, int]:
    old, new = before.splitlines(), after.splitlines()
    lines, first = [], 0
    for group in difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(0):
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                continue
            first = first or i1 + 1
            lines += [f"-{line}" for line in old[i1:i2] if line.strip()]
            lines += [f"+{line}" for line in new[j1:j2] if line.strip()]
            if i1 == i2 and i2 < len(old):  # an insertion: say where
                lines.append(f" {old[i2]}")
    return "\n".join(lines), first


def mutants(source: str, lines: range | None = None) -> list[Mutant]:
    """Every distinct mutant of ``source`` that compiles, optionally within ``lines``."""
    found: dict[str, Mutant] = {}
    for name, operator in operators().items():
        occurrence = 0
        while (mutated := mutate_code(source, operator, occurrence)) is not None:
            occurrence += 1
            if mutated == source or mutated in found:
                continue
            diff, line = _changed_lines(source, mutated)
            if lines is not None and line not in lines:
                continue
            try:
                compile(mutated, "<mutant>", "exec")
            except SyntaxError:
                continue  # a mutant Python cannot read proves nothing about the suite
            runnable = mutated + NEVER_RAISED if name == "except never matches" else mutated
            found[mutated] = Mutant(name, runnable, diff, line)
    return sorted(found.values(), key=lambda m: (m.line, m.operator, m.diff))


# -- what an exercise says about its mutants ----------------------------------------------


@dataclass
class Plan:
    """``tests/<module>/mutants/<name>.toml``: equivalent mutants and what gets mutated."""

    path: Path
    equivalent: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    between: tuple[str, str] | None = None  # only lines between two marker comments
    seeded: bool = False  # mutants are bug-seeded apps the reference's own tests must catch
    problems: list[str] = field(default_factory=list)

    def reason(self, mutant: Mutant) -> str | None:
        for key, reason in self.equivalent:
            if key == mutant.key():
                return reason
        return None

    def region(self, source: str) -> range | None:
        if self.between is None:
            return None
        start, end = self.between
        lines = source.splitlines()
        starts = [i for i, line in enumerate(lines, 1) if line.startswith(start)]
        ends = [i for i, line in enumerate(lines, 1) if line.startswith(end)]
        if len(starts) != 1 or len(ends) != 1:
            self.problems.append(f"{self.path.name}: the markers {self.between} are not each once")
            return range(0)
        return range(starts[0] + 1, ends[0])


def load_plan(path: Path) -> Plan:
    plan = Plan(path)
    if not path.is_file():
        return plan
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        plan.problems.append(f"{path.name} is not valid TOML: {exc}")
        return plan
    unknown = set(data) - {"mutate_between", "seeded", "equivalent"}
    if unknown:
        plan.problems.append(f"{path.name}: unknown keys {sorted(unknown)}")
    between = data.get("mutate_between")
    if between is not None:
        plan.between = (str(between[0]), str(between[1]))
    plan.seeded = bool(data.get("seeded", False))
    for number, entry in enumerate(data.get("equivalent", []), 1):
        diff, reason = str(entry.get("diff", "")), str(entry.get("reason", "")).strip()
        if not diff_key(diff) or not reason or "\n" in reason:
            plan.problems.append(
                f"{path.name}: equivalent #{number} needs a diff and a one-line reason"
            )
            continue
        plan.equivalent.append((diff_key(diff), reason))
    return plan


def unused_declarations(plan: Plan, found: list[Mutant]) -> list[str]:
    """Declared equivalents that match no mutant any more: stale after an edit."""
    keys = {mutant.key() for mutant in found}
    return [
        f"{plan.path.name}: a declared equivalent matches no mutant now: {' / '.join(key)}"
        for key, _ in plan.equivalent
        if key not in keys
    ]
