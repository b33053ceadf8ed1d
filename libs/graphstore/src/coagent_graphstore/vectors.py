"""Checks and maths every VectorIndex adapter shares."""

from __future__ import annotations

import math
from collections.abc import Sequence

from coagent_graphstore.errors import InvalidRecord
from coagent_graphstore.models import VectorItem

MAX_K = 1000


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def check_vectors(dimension: int, items: Sequence[VectorItem]) -> None:
    """A wrong dimension or a zero vector (no direction) is the caller's mistake."""
    for item in items:
        if len(item.vector) != dimension:
            raise InvalidRecord(
                f"vector {item.kind}:{item.id} has {len(item.vector)} dimensions, "
                f"the index has {dimension}"
            )
        if not any(item.vector):
            raise InvalidRecord(f"vector {item.kind}:{item.id} is all zeros")


def check_query(dimension: int, vector: Sequence[float], k: int) -> None:
    if len(vector) != dimension:
        raise InvalidRecord(f"query vector has {len(vector)} dimensions, the index has {dimension}")
    if not 0 < k <= MAX_K:
        raise InvalidRecord(f"k must be between 1 and {MAX_K}, got {k}")
