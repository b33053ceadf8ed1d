"""What the workflow engine needs from the outside world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coagent_kit.unit_of_work import UnitOfWorkPort
from coagent_workflow_engine.domain import Run


class RunRepository(Protocol):
    """Runs of every workflow; at most one run per trigger firing."""

    async def add(self, run: Run) -> bool:
        """Store ``run``; False (and nothing stored) if a run already has its firing key."""
        ...

    async def get(self, workflow_id: str, run_id: str) -> Run | None:
        """The run ``run_id`` of ``workflow_id``; ``None`` if unknown or of another workflow."""
        ...

    async def list_for_workflow(self, workflow_id: str, limit: int) -> list[Run]:
        """The latest ``limit`` runs of ``workflow_id``, newest first."""
        ...


class UnitOfWork(UnitOfWorkPort, Protocol):
    """One transaction: state changes, the events they cause and the consumed-event marks."""

    # A read-only property rather than an attribute: protocol attributes are invariant, so an
    # adapter's concrete repository type would not match a plain ``runs: ...`` member.
    @property
    def runs(self) -> RunRepository:
        """Runs, read and written inside this unit."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
