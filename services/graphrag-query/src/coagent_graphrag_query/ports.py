"""What the graphrag-query service needs from the outside world."""

from __future__ import annotations

from typing import Protocol

from coagent_graphrag_query.domain import BuildStatus, JobOutcome


class BuildStatusStore(Protocol):
    """The per-room build-status projection; applying is idempotent by event id."""

    async def apply(self, event_id: str, outcome: JobOutcome) -> bool:
        """Fold ``outcome`` into its room's status; False if ``event_id`` was already applied."""
        ...

    async def get(self, room_id: str) -> BuildStatus | None:
        """The room's status, or None before its first job ended."""
        ...
