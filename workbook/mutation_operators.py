"""Mutation operators: Cosmic Ray's, chosen, and ours on its interface.

Cosmic Ray supplies most operators: the boundary flips of comparisons, numbers nudged by
one, ``and``/``or``, ``True``/``False``, an added or dropped ``not``, a decorator removed,
a loop that never iterates.  It has none for the mistakes learners make most with async
web code, so the ones below add them on its operator interface: ``all``/``any`` swapped,
``is None`` turned into a truth test, a side-effecting statement or an ``await`` removed,
an ``except`` that never matches, and an early return.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import parso
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
