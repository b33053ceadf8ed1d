"""What the graphrag-query service needs from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from coagent_graphrag_query.answers import Passage
from coagent_graphrag_query.domain import BuildStatus, JobOutcome


class BuildStatusStore(Protocol):
    """The per-room build-status projection; applying is idempotent by event id."""

    async def apply(self, event_id: str, outcome: JobOutcome) -> bool:
        """Fold ``outcome`` into its room's status; False if ``event_id`` was already applied."""
        ...

    async def get(self, room_id: str) -> BuildStatus | None:
        """The room's status, or None before its first job ended."""
        ...


class ChatModel(Protocol):
    """Writes the answer to a question from numbered passages.

    Every sentence must end with markers naming the passages it relies on (``… [1][3]``);
    sentences without a supporting passage are dropped afterwards, so a model that guesses
    only loses text, never adds unsupported claims.
    """

    async def answer(self, question: str, passages: Sequence[Passage]) -> str: ...

    def stream(self, question: str, passages: Sequence[Passage]) -> AsyncIterator[str]:
        """The same kind of answer as text pieces, as the model writes them.

        Pieces may be cut anywhere, even inside a word or a marker.
        """
        ...
