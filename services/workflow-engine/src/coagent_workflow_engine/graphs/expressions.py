"""A small, safe expression language for condition nodes and router rules.

Expressions are written by workflow authors and stored in graph documents, so they are untrusted:
they are parsed with :mod:`ast` and only a whitelist of node kinds is accepted (comparisons,
``and``/``or``/``not``, literals, and name/attribute/subscript lookups on the run state). There are
no calls, no arithmetic, no comprehensions and no dunder access, so evaluation cannot run code,
allocate without bound or reach Python internals. ``eval`` is never used: :class:`Expression`
walks the validated tree itself, and attribute access is a *mapping* lookup (``a.b`` is
``a["b"]``), never ``getattr``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_EXPRESSION_LENGTH", "Expression", "ExpressionError", "compile_expression"]

#: Long enough for any hand-written condition; short enough that parsing cost is negligible.
MAX_EXPRESSION_LENGTH = 2000
#: Bounds the tree so a stored expression cannot make validation or evaluation expensive.
MAX_NODES = 200

#: JSON spellings are accepted as literals: authors of graph documents often come from JS.
_LITERAL_NAMES: dict[str, Any] = {"true": True, "false": False, "null": None, "none": None}

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


class ExpressionError(ValueError):
    """An expression is refused (at parse time) or cannot be evaluated on a given state."""


@dataclass(frozen=True)
class Expression:
    """A parsed, whitelisted expression; :meth:`evaluate` runs it against a state mapping."""

    source: str
    tree: ast.expr = field(repr=False)
    names: frozenset[str]
    """Top-level state keys the expression reads (useful to explain or pre-check a graph)."""

    def evaluate(self, state: Mapping[str, Any]) -> Any:
        """The expression's value; missing keys read as ``None``."""
        return _eval(self.tree, state)

    def test(self, state: Mapping[str, Any]) -> bool:
        """The expression's truth value, as a condition node uses it."""
        return bool(self.evaluate(state))


def compile_expression(source: str) -> Expression:
    """Parse and whitelist ``source``; raises :class:`ExpressionError` with a readable reason."""
    if not isinstance(source, str):
        raise ExpressionError("expression must be a string")
    if not source.strip():
        raise ExpressionError("expression is empty")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}") from None
    names: set[str] = set()
    for count, node in enumerate(ast.walk(tree), start=1):
        if count > MAX_NODES:
            raise ExpressionError(f"expression has more than {MAX_NODES} parts")
        _check(node, names)
    return Expression(source=source, tree=tree, names=frozenset(names))


_ALLOWED: tuple[type[ast.AST], ...] = (
    ast.Compare,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Subscript,
    ast.List,
    ast.Tuple,
    *_COMPARE,
)


def _check(node: ast.AST, names: set[str]) -> None:
    if not isinstance(node, _ALLOWED):
        raise ExpressionError(f"{_describe(node)} is not allowed in an expression")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        if not (isinstance(node.operand, ast.Constant) and _is_number(node.operand.value)):
            raise ExpressionError("unary minus is only allowed on a number literal")
    elif isinstance(node, ast.Constant):
        if not (node.value is None or isinstance(node.value, str | int | float | bool)):
            raise ExpressionError(f"literal {node.value!r} is not allowed")
    elif isinstance(node, ast.Name):
        _check_key(node.id)
        if node.id.lower() not in _LITERAL_NAMES:
            names.add(node.id)
    elif isinstance(node, ast.Attribute):
        _check_key(node.attr)
    elif isinstance(node, ast.Compare):
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot) and not _is_singleton(right):
                raise ExpressionError("'is' may only compare with None, True or False")


def _check_key(key: str) -> None:
    # Single leading underscores are ordinary state keys (e.g. "_cycle_count"); dunders are not.
    if key.startswith("__"):
        raise ExpressionError(f"access to {key!r} is not allowed")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_singleton(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, bool)
    return isinstance(node, ast.Name) and node.id.lower() in _LITERAL_NAMES


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return "a function call"
    if isinstance(node, ast.BinOp):
        return "arithmetic"
    if isinstance(node, ast.Lambda):
        return "a lambda"
    return f"{type(node).__name__!r}"


def _eval(node: ast.expr, state: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        lowered = node.id.lower()
        if lowered in _LITERAL_NAMES:
            return _LITERAL_NAMES[lowered]
        return state.get(node.id)
    if isinstance(node, ast.Attribute):
        return _lookup(_eval(node.value, state), node.attr)
    if isinstance(node, ast.Subscript):
        return _lookup(_eval(node.value, state), _eval(node.slice, state))
    if isinstance(node, ast.BoolOp):
        return _bool_op(node, state)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, state)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.Compare):
        return _compare(node, state)
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(item, state) for item in node.elts]
    raise ExpressionError(f"{_describe(node)} is not allowed in an expression")  # unreachable


def _bool_op(node: ast.BoolOp, state: Mapping[str, Any]) -> Any:
    is_and = isinstance(node.op, ast.And)
    value: Any = None
    for operand in node.values:
        value = _eval(operand, state)
        if bool(value) != is_and:  # short-circuit exactly like Python
            return value
    return value


def _compare(node: ast.Compare, state: Mapping[str, Any]) -> bool:
    left = _eval(node.left, state)
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = _eval(comparator, state)
        try:
            ok = _COMPARE[type(op)](left, right)
        except TypeError as exc:
            raise ExpressionError(f"cannot compare {left!r} and {right!r}: {exc}") from None
        if not ok:
            return False
        left = right
    return True


def _lookup(container: Any, key: Any) -> Any:
    """Look ``key`` up in state data: mappings by key, lists by index, anything else is ``None``."""
    if isinstance(container, Mapping):
        return container.get(key)
    is_list = isinstance(container, Sequence) and not isinstance(container, str | bytes)
    is_index = isinstance(key, int) and not isinstance(key, bool)
    if is_list and is_index and -len(container) <= key < len(container):
        return container[key]
    return None
