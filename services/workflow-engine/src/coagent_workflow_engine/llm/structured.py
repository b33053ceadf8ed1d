"""Structured output through instructor, shared by the OpenAI and Google adapters.

instructor sends the schema (tool call or JSON mode), validates the reply with pydantic and, on a
validation error, re-asks the model with the error ("schema repair") up to ``max_retries`` times.
Two things are added here: usage is summed over every attempt (instructor's own total only works
for OpenAI-shaped usage, so a ``completion:response`` hook collects it for both providers), and
instructor's wrapper exceptions are unwrapped into the layer's error hierarchy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from instructor import AsyncInstructor
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import ValidationError

from coagent_workflow_engine.llm.errors import InvalidOutput, LLMError
from coagent_workflow_engine.llm.ports import SchemaT, Usage

#: What "the model's output did not fit the schema" looks like, after instructor's repair rounds.
_INVALID = (
    ValidationError,
    json.JSONDecodeError,
    InstructorRetryException,
    IncompleteOutputException,
)
ErrorMapper = Callable[[BaseException], LLMError | None]
UsageReader = Callable[[Any], Usage | None]


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its ``__cause__``/``__context__`` chain (cycle-safe)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def translate(exc: BaseException, mapper: ErrorMapper, provider: str) -> LLMError | None:
    """The hierarchy error for whatever instructor or the SDK raised, or ``None`` if unknown."""
    for cause in causes(exc):
        if isinstance(cause, LLMError):
            return cause
        mapped = mapper(cause)
        if mapped is not None:
            return mapped
    if any(isinstance(c, _INVALID) for c in causes(exc)):
        return InvalidOutput(f"structured output failed: {exc}", provider=provider)
    return None


async def run_structured(
    client: AsyncInstructor,
    *,
    schema: type[SchemaT],
    messages: list[dict[str, Any]],
    model: str,
    max_retries: int,
    read_usage: UsageReader,
    map_error: ErrorMapper,
    provider: str,
    **kwargs: Any,
) -> tuple[SchemaT, Usage]:
    """Call instructor once (with its repair rounds) and return the value and the summed usage.

    ``client`` must be private to this call: the usage hook is attached to it.
    """
    seen: list[Usage] = []

    def on_response(response: Any) -> None:
        usage = read_usage(response)
        if usage is not None:
            seen.append(usage)

    client.on("completion:response", on_response)
    try:
        value = await client.create(
            response_model=schema,
            messages=messages,  # type: ignore[arg-type]
            model=model,
            max_retries=max_retries,
            **kwargs,
        )
    except Exception as exc:
        mapped = translate(exc, map_error, provider)
        if mapped is None:
            raise
        raise mapped from exc
    return _plain(value, schema), sum(seen, Usage())


def _plain(value: SchemaT, schema: type[SchemaT]) -> SchemaT:
    """An instance of exactly ``schema``: instructor returns a subclass of its own that carries the
    raw provider response, which breaks equality and would leak SDK objects into run state.
    The values are already validated, so they are copied without validating again."""
    if type(value) is schema:
        return value
    fields = {name: getattr(value, name) for name in schema.model_fields}
    return schema.model_construct(_fields_set=set(value.model_fields_set), **fields)
