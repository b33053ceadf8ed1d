"""What the workflow engine needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Protocol

from coagent_kit.unit_of_work import UnitOfWorkPort
from coagent_workflow_engine.domain import HistoryMessage, Run, Step
from coagent_workflow_engine.workflows.ports import WorkflowRepository


class RunRepository(Protocol):
    """Runs of every workflow; at most one run per trigger firing."""

    async def add(self, run: Run) -> bool:
        """Store ``run``; False (nothing stored) if its firing key or idempotency key is taken."""
        ...

    async def get(self, workflow_id: str, run_id: str) -> Run | None:
        """The run ``run_id`` of ``workflow_id``; ``None`` if unknown or of another workflow."""
        ...

    async def list_for_workflow(self, workflow_id: str, limit: int) -> list[Run]:
        """The latest ``limit`` runs of ``workflow_id``, newest first."""
        ...

    async def by_id(self, run_id: str) -> Run | None: ...

    async def by_idempotency_key(
        self, workflow_id: str, created_by: str | None, key: str
    ) -> Run | None: ...

    async def save(self, run: Run) -> None:
        """Overwrite the stored run with ``run``."""
        ...

    async def claim(
        self, owner: str, lease_s: float, now: datetime, exclude: Collection[str] = ()
    ) -> Run | None:
        """Take the oldest run that is queued, or running under an expired lease, for ``owner``.

        The claimed run is ``running`` with a fresh lease and ``attempt`` incremented; concurrent
        claimers never get the same run (``FOR UPDATE SKIP LOCKED`` in PostgreSQL). ``exclude``
        names runs the claimer is still executing: a lease that lapsed while its own process was
        starved of CPU must not start a second execution of the same run beside the first.
        """
        ...

    async def renew(self, run_id: str, owner: str, lease_s: float, now: datetime) -> Run | None:
        """Extend ``owner``'s lease; ``None`` when ``owner`` no longer holds it."""
        ...


class StepRepository(Protocol):
    """The node-by-node timeline of runs."""

    async def find(self, run_id: str, node_id: str, step: int) -> Step | None: ...

    async def put(self, step: Step) -> None:
        """Insert or overwrite the step ``(run_id, node_id, step)``."""
        ...

    async def of_run(self, run_id: str) -> list[Step]:
        """In execution order."""
        ...


class HistoryRepository(Protocol):
    """A bounded projection of each room's recent messages (from chat's events)."""

    async def add(self, message: HistoryMessage, keep: int) -> bool:
        """Store ``message`` once (by message id), keeping only the room's ``keep`` latest.

        False when it is already stored or was erased (a post delivered after its tombstone).
        """
        ...

    async def erase(self, room_id: str, message_ids: Sequence[str]) -> int:
        """Drop those messages and remember them as erased; how many were stored."""
        ...

    async def recent(self, room_id: str, limit: int) -> list[HistoryMessage]:
        """The room's latest ``limit`` messages, oldest first."""
        ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    """One transaction: state changes, the events they cause and the consumed-event marks."""

    # Read-only properties rather than attributes: protocol attributes are invariant, so an
    # adapter's concrete repository type would not match a plain ``runs: ...`` member.
    @property
    def runs(self) -> RunRepository:
        """Runs, read and written inside this unit."""
        ...

    @property
    def steps(self) -> StepRepository: ...

    @property
    def workflows(self) -> WorkflowRepository: ...

    @property
    def history(self) -> HistoryRepository: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
