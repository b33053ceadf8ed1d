"""The harness's figures as pure functions: evidence recall@k and cross-room leakage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What one question in one room got back: message ids of each passage, best first."""

    room_id: str
    gold: str | None  # the message stating the answer; None for a question from another room
    ranked: tuple[tuple[str, ...], ...]

    def rank(self) -> int | None:
        """1-based rank of the first passage holding the gold message, None if none does."""
        if self.gold is None:
            return None
        for position, message_ids in enumerate(self.ranked, start=1):
            if self.gold in message_ids:
                return position
        return None


def recall_at_k(retrievals: Sequence[Retrieval], k: int) -> float:
    """Share of gold questions whose evidence message is among the first ``k`` passages."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    gold = [r for r in retrievals if r.gold is not None]
    if not gold:
        return 0.0
    found = sum(1 for r in gold if (rank := r.rank()) is not None and rank <= k)
    return found / len(gold)


def foreign_ids(owner: Mapping[str, str], room_id: str, message_ids: Iterable[str]) -> list[str]:
    """Cited message ids that are not ``room_id``'s (an id no room owns is foreign too)."""
    return [m for m in message_ids if owner.get(m) != room_id]


@dataclass(frozen=True, slots=True)
class Leakage:
    queries: int
    leaking_queries: int  # queries with at least one foreign message among their results
    foreign_citations: int


def leakage(owner: Mapping[str, str], retrievals: Sequence[Retrieval]) -> Leakage:
    """How many results cite a message of another room; a partitioned store gives 0."""
    leaking = foreign = 0
    for retrieval in retrievals:
        cited = [m for message_ids in retrieval.ranked for m in message_ids]
        alien = foreign_ids(owner, retrieval.room_id, cited)
        foreign += len(alien)
        leaking += 1 if alien else 0
    return Leakage(len(retrievals), leaking, foreign)
