"""In-memory implementations of every graphrag-query port (unit tests, local experiments)."""

from __future__ import annotations

from coagent_graphrag_query.domain import BuildStatus, JobOutcome, fold


class MemoryBuildStatusStore:
    """Statuses and applied event ids in dictionaries; no expiry of the applied ids."""

    def __init__(self) -> None:
        self.statuses: dict[str, BuildStatus] = {}
        self.applied: set[str] = set()

    async def apply(self, event_id: str, outcome: JobOutcome) -> bool:
        if event_id in self.applied:
            return False
        self.applied.add(event_id)
        self.statuses[outcome.room_id] = fold(self.statuses.get(outcome.room_id), outcome)
        return True

    async def get(self, room_id: str) -> BuildStatus | None:
        return self.statuses.get(room_id)
