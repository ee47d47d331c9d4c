"""Mutants of a reference solution: small wrong versions its hidden suite must reject.

Cosmic Ray supplies the engine (parso trees, ``mutate_code``) and most operators: the
boundary flips of comparisons, numbers nudged by one, ``and``/``or``, ``True``/``False``,
an added or dropped ``not``, an ``except`` clause that never matches, a decorator removed,
a loop that never iterates.  Its own runner is not used: it mutates files in place and
runs a test command per mutant, while a mutant here must go through the grader's runner
(warm, limited, judged by the same verdict as a learner's file).  Cosmic Ray has no
operator for the mistakes learners make most with async web code, so the ones below add
them on its operator interface: ``all``/``any`` swapped, ``is None`` turned into a truth
test, a side-effecting statement or an ``await`` removed, and an early return.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import parso
from cosmic_ray.mutating import mutate_code
from cosmic_ray.operators import (
    boolean_replacer,
    break_continue,
    comparison_operator_replacement,
    number_replacer,
    remove_decorator,
    unary_operator_replacement,
    zero_iteration_for_loop,
)
from cosmic_ray.operators.operator import Example, Operator
from parso.python import tree

# the comparison flips that find untested boundaries; the other pairs mostly repeat them
BOUNDARY_FLIPS = (
    "Lt_LtE",
    "LtE_Lt",
    "Gt_GtE",
    "GtE_Gt",
    "Eq_NotEq",
    "NotEq_Eq",
    "Is_IsNot",
    "IsNot_Is",
)
# an ``except`` clause that never matches names an exception nothing raises, defined here
NEVER_RAISED_NAME = "NeverRaisedError"
NEVER_RAISED = f"\n\nclass {NEVER_RAISED_NAME}(Exception):\n    pass\n"
MUTATED_STATEMENTS = ("atom_expr", "power", "raise_stmt", "del_stmt")
AUGMENTED = {"+=", "-=", "*=", "/=", "//=", "%=", "|=", "&=", "^=", "<<=", ">>=", "@="}


class NudgeNumber(number_replacer.NumberReplacer):
    """Cosmic Ray's NumberReplacer, keeping the number's spacing: ``f(501)``, not ``f( 501)``."""

    def mutate(self, node: Any, index: int) -> Any:
        nudged = super().mutate(node, index)
        return tree.Number(nudged.value.strip(), node.start_pos, node.prefix)


class ExceptNeverMatches(Operator):
    """``except SomeError:`` catches nothing: the error goes on up.

    Cosmic Ray's ExceptionReplacer renames only the last part of a dotted name
    (``httpx.HTTPError`` became ``httpxCosmicRayTestingExceptionHTTPError``).
    """

    def mutation_positions(self, node: Any) -> Iterator[Any]:
        if node.type == "except_clause":
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        caught = node.children[1]
        node.children[1] = _code(f"{caught.get_first_leaf().prefix}{NEVER_RAISED_NAME}")
        return node

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (Example("try: f()\nexcept E: pass", f"try: f()\nexcept {NEVER_RAISED_NAME}: pass"),)


class SwapAllAny(Operator):
    """``all(...)`` becomes ``any(...)`` and back: "every" against "some"."""

    SWAP: ClassVar[dict[str, str]] = {"all": "any", "any": "all"}

    def mutation_positions(self, node: Any) -> Iterator[Any]:
        if isinstance(node, tree.Name) and node.value in self.SWAP and _called(node):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        node.value = self.SWAP[node.value]
        return node

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (Example("ok = all(x)", "ok = any(x)"),)


class NoneToFalsy(Operator):
    """``x is None`` becomes ``not x``, ``x is not None`` becomes ``x``: None against falsy."""

    def mutation_positions(self, node: Any) -> Iterator[Any]:
        if _none_test(node) is not None:
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        negated = _none_test(node)
        subject = node.children[0].get_code(include_prefix=False)
        lead = node.get_first_leaf().prefix
        return _code(f"{lead}{'' if negated else 'not '}{subject}")

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (Example("if x is None: pass", "if not x: pass"),)


class RemoveStatement(Operator):
    """A statement that only acts (a call, an ``await``, a ``raise``, a store) becomes ``pass``."""

    def mutation_positions(self, node: Any) -> Iterator[Any]:
        if _acting_statement(node):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        return _code(f"{node.get_first_leaf().prefix}pass")

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (Example("def f():\n    g()\n", "def f():\n    pass\n"),)


class RemoveAwait(Operator):
    """``await call()`` becomes ``call()``: the coroutine is made but never run."""

    def mutation_positions(self, node: Any) -> Iterator[Any]:
        if node.type in ("atom_expr", "power") and _is_keyword(node.children[0], "await"):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        lead = node.get_first_leaf().prefix
        rest = "".join(child.get_code() for child in node.children[1:]).lstrip()
        return _code(f"{lead}{rest}")

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (Example("async def f():\n    await g()\n", "async def f():\n    g()\n"),)


class EarlyReturn(Operator):
    """A function with several statements returns before its last one."""

    def mutation_positions(self, node: Any) -> Iterator[Any]:
        if isinstance(node, tree.Function) and len(_body(node)) >= 2:
            yield (node.start_pos, node.end_pos)

    def mutate(self, node: Any, index: int) -> Any:
        last = _body(node)[-1]
        suite = node.children[-1]
        where = suite.children.index(last)
        suite.children.insert(where, _code(" " * last.start_pos[1] + "return\n"))
        return node

    @classmethod
    def examples(cls) -> tuple[Example, ...]:
        return (
            Example("def f():\n    a()\n    b()\n", "def f():\n    a()\n    return\n    b()\n"),
        )


def _code(source: str) -> Any:
    return parso.parse(source)


def _is_keyword(node: Any, word: str) -> bool:
    return isinstance(node, tree.Keyword) and node.value == word


def _called(name: Any) -> bool:
    parent = name.parent
    if parent is None or parent.type not in ("atom_expr", "power"):
        return False
    if parent.children[0] is not name:
        return False
    trailer = parent.children[1]
    return trailer.type == "trailer" and trailer.children[0].value == "("


def _none_test(node: Any) -> bool | None:
    """True for ``x is not None``, False for ``x is None``, None for anything else."""
    if node.type != "comparison" or len(node.children) != 3:
        return None
    op, right = node.children[1], node.children[2]
    if not (isinstance(right, tree.Keyword) and right.value == "None"):
        return None
    text = " ".join(op.get_code().split())
    return {"is": False, "is not": True}.get(text)


def _acting_statement(node: Any) -> bool:
    parent = node.parent
    if parent is None or parent.type != "simple_stmt" or parent.children[0] is not node:
        return False
    if node.type in MUTATED_STATEMENTS or _is_keyword(node, "raise"):
        return True
    if node.type != "expr_stmt":
        return False
    operator = node.children[1]
    if operator.type == "operator" and operator.value in AUGMENTED:
        return True
    # a store into an attribute or an item acts on shared state; a plain name does not
    return (
        operator.type == "operator"
        and operator.value == "="
        and node.children[0].type
        in (
            "atom_expr",
            "power",
        )
    )


def _body(function: Any) -> list[Any]:
    suite = function.children[-1]
    if suite.type != "suite":
        return []
    statements = [child for child in suite.children if child.type not in ("newline", "endmarker")]
    first = statements[0] if statements else None
    if first is not None and first.type == "simple_stmt" and first.children[0].type == "string":
        statements = statements[1:]  # a docstring is not a statement worth stopping before
    return statements


def operators() -> dict[str, Operator]:
    """Every operator the gate applies, by a short, stable name."""
    chosen: dict[str, Operator] = {}
    for op in comparison_operator_replacement.operators():
        flip = op.__name__.removeprefix("ReplaceComparisonOperator_")
        if flip in BOUNDARY_FLIPS:
            chosen[f"compare {flip}"] = op()
    chosen["number"] = NudgeNumber()
    chosen["and to or"] = boolean_replacer.ReplaceAndWithOr()
    chosen["or to and"] = boolean_replacer.ReplaceOrWithAnd()
    chosen["true to false"] = boolean_replacer.ReplaceTrueWithFalse()
    chosen["false to true"] = boolean_replacer.ReplaceFalseWithTrue()
    chosen["add not"] = boolean_replacer.AddNot()
    chosen["drop not"] = unary_operator_replacement.ReplaceUnaryOperator_Delete_Not()
    chosen["break to continue"] = break_continue.ReplaceBreakWithContinue()
    chosen["except never matches"] = ExceptNeverMatches()
    chosen["decorator removed"] = remove_decorator.RemoveDecorator()
    chosen["loop never runs"] = zero_iteration_for_loop.ZeroIterationForLoop()
    chosen["all/any swapped"] = SwapAllAny()
    chosen["none to falsy"] = NoneToFalsy()
    chosen["statement removed"] = RemoveStatement()
    chosen["await removed"] = RemoveAwait()
    chosen["early return"] = EarlyReturn()
    return chosen


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
            if name == "except never matches":
                mutated += NEVER_RAISED
            diff, line = _changed_lines(source, mutated.removesuffix(NEVER_RAISED))
            if lines is not None and line not in lines:
                continue
            try:
                compile(mutated, "<mutant>", "exec")
            except SyntaxError:
                continue  # a mutant Python cannot read proves nothing about the suite
            found[mutated] = Mutant(name, mutated, diff, line)
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


def indent(diff: str) -> str:
    return re.sub(r"^", "    ", diff, flags=re.MULTILINE)
