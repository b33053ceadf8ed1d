"""Shared building blocks of the graph document's models (ids, keys, the strict config base)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

SCHEMA_VERSION: Literal[1] = 1

#: Reserved by LangGraph, or used by it as separators in checkpoint namespaces.
RESERVED_NODE_IDS = frozenset({"__start__", "__end__"})
NODE_ID_PATTERN = r"^[^|:\s]{1,128}$"


def _not_reserved(value: str) -> str:
    if value in RESERVED_NODE_IDS:
        raise ValueError(f"{value!r} is reserved")
    return value


NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN), AfterValidator(_not_reserved)]
Label = Annotated[str, Field(min_length=1, max_length=64)]
StateKey = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Text = Annotated[str, Field(min_length=1, max_length=8000)]
ExpressionSource = Annotated[str, Field(min_length=1, max_length=2000)]
Ref = Annotated[str, Field(min_length=1, max_length=128)]
UiData = dict[str, JsonValue]
ExpressionLoc = tuple[str | int, ...]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeConfig(Strict):
    """Base of every node config."""

    def expressions(self) -> list[tuple[ExpressionLoc, str]]:
        """``(loc inside config, source)`` of every expression, so validation can parse them."""
        return []
