"""The safe expression language: what it evaluates, and everything it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from coagent_workflow_engine.graphs.expressions import (
    MAX_EXPRESSION_LENGTH,
    ExpressionError,
    compile_expression,
)

STATE: dict[str, Any] = {
    "score": 7,
    "grade": {"score": 9, "tags": ["clear", "short"], "meta": {"lang": "en"}},
    "flags": {"plagiarism": False},
    "_cycle_count": 3,
    "evaluation_result": True,
    "answer": "yes",
    "items": [10, 20, 30],
    "missing_is_none": None,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("score >= 7", True),
        ("score > 7", False),
        ("1 < score < 10", True),
        ("1 < score < 5", False),
        ("score == 7 and answer == 'yes'", True),
        ("score == 8 or answer != 'no'", True),
        ("not evaluation_result", False),
        ("grade.score >= 9", True),
        ("grade['score'] == grade.score", True),
        ("grade.meta.lang == 'en'", True),
        ("'clear' in grade.tags", True),
        ("'long' not in grade.tags", True),
        ("items[0] == 10 and items[-1] == 30", True),
        ("items[7] is None", True),
        ("answer in ['yes', 'y', 'ok']", True),
        ("answer in ('no', 'n')", False),
        ("_cycle_count >= 3", True),
        ("unknown_key is None", True),
        ("unknown_key.deeper is None", True),
        ("answer.length is None", True),  # attributes are mapping lookups, never getattr
        ("flags.plagiarism == false", True),
        ("evaluation_result is true", True),
        ("missing_is_none == null", True),
        ("score > -1", True),
        ("score >= 6.5", True),
    ],
)
def test_allowed_expressions_evaluate(source: str, expected: bool) -> None:
    assert compile_expression(source).evaluate(STATE) is expected


def test_boolean_operators_short_circuit_like_python() -> None:
    assert compile_expression("answer or score").evaluate(STATE) == "yes"
    assert compile_expression("missing_is_none and items[5] > 1").evaluate(STATE) is None
    assert compile_expression("answer").test(STATE) is True
    assert compile_expression("missing_is_none").test(STATE) is False


def test_names_lists_top_level_state_keys_only() -> None:
    expr = compile_expression("grade.score > 3 and answer in ['yes'] and flags['x'] != true")
    assert expr.names == frozenset({"grade", "answer", "flags"})


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "open('/etc/passwd')",
        "len(items) > 2",
        "grade.keys()",
        "x.__class__",
        "x['a'].__dict__",
        "__builtins__",
        "score + 1 > 2",
        "score * 2",
        "-score < 0",
        "[x for x in items]",
        "lambda: 1",
        "{'a': 1}",
        "{1, 2}",
        "items[0:2]",
        "score if answer else 0",
        "(y := 3)",
        "f'{score}'",
        "b'bytes' == answer",
        "score is 7",
        "...",
        "1j == 1j",
        "",
        "   ",
        "score >",
        "import os",
        "score = 3",
    ],
)
def test_refused_constructs(source: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source)


def test_length_and_size_bounds() -> None:
    with pytest.raises(ExpressionError, match="longer"):
        compile_expression("a" * (MAX_EXPRESSION_LENGTH + 1))
    with pytest.raises(ExpressionError, match="parts"):
        compile_expression(" or ".join(f"x{i} == {i}" for i in range(80)))


def test_non_string_source_is_refused() -> None:
    with pytest.raises(ExpressionError):
        compile_expression(42)  # type: ignore[arg-type]


def test_incomparable_values_raise_at_evaluation() -> None:
    expr = compile_expression("unknown_key > 3")
    with pytest.raises(ExpressionError, match="cannot compare"):
        expr.evaluate(STATE)
    with pytest.raises(ExpressionError):
        compile_expression("'a' in score").evaluate(STATE)


def test_evaluation_never_touches_python_attributes() -> None:
    class Sneaky:
        secret = "leaked"

    assert compile_expression("obj.secret").evaluate({"obj": Sneaky()}) is None
