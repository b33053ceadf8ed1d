"""What the workflow documents need from storage."""

from __future__ import annotations

from typing import Protocol

from coagent_workflow_engine.workflows.domain import Workflow, WorkflowVersion


class WorkflowRepository(Protocol):
    """Workflows (soft-deleted ones are invisible to every read) and their versions."""

    async def add(self, workflow: Workflow) -> None: ...

    async def update(self, workflow: Workflow) -> None: ...

    async def get(self, workflow_id: str) -> Workflow | None:
        """The workflow unless unknown or deleted."""
        ...

    async def of_owner(self, created_by: str | None) -> list[Workflow]:
        """Every live workflow of ``created_by`` (all when ``None``), newest update first."""
        ...

    async def add_version(self, version: WorkflowVersion) -> None: ...

    async def version(self, workflow_id: str, number: int) -> WorkflowVersion | None: ...

    async def versions(self, workflow_id: str) -> list[WorkflowVersion]:
        """Newest first."""
        ...

    async def room_workflow(self, room_id: str) -> str | None:
        """Id of the workflow attached to the room, if any."""
        ...

    async def attach(self, room_id: str, workflow_id: str) -> None: ...

    async def detach(self, room_id: str) -> None:
        """The room has no attached workflow any more (nothing happens when it had none)."""
        ...
