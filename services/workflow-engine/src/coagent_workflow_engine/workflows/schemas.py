"""HTTP shapes of the workflow documents (the reference client's ``WorkflowRead`` and friends)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from coagent_workflow_engine.graphs import WorkflowGraph, check_graph, to_editor
from coagent_workflow_engine.workflows.domain import Workflow, WorkflowVersion


class WorkflowCreate(BaseModel):
    name: str = Field(default="New Workflow", min_length=1, max_length=200)
    graph_data: dict[str, Any] | None = None
    is_active: bool = True


class WorkflowUpdate(BaseModel):
    """Partial update; a ``graph_data`` makes a new immutable version."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    graph_data: dict[str, Any] | None = None
    is_active: bool | None = None


class WorkflowRead(BaseModel):
    """``graph_data`` is in the editor's shape (what the web client loads back).

    ``runnable`` tells the editor whether the current version could run now (drafts may not).
    """

    id: str
    name: str
    is_active: bool
    graph_data: dict[str, Any]
    version: int
    runnable: bool
    limits: dict[str, Any]
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, workflow: Workflow, version: WorkflowVersion) -> WorkflowRead:
        graph = WorkflowGraph.model_validate(version.graph)
        runnable, _ = check_graph(version.graph, runnable=True)
        return cls(
            id=workflow.id,
            name=workflow.name,
            is_active=workflow.is_active,
            graph_data=to_editor(graph),
            version=version.version,
            runnable=runnable is not None,
            limits=workflow.limits,
            created_by=workflow.created_by,
            created_at=workflow.created_at,
            updated_at=workflow.updated_at,
        )


class WorkflowVersionRead(BaseModel):
    """An immutable version; ``graph`` is canonical, ``graph_data`` the editor's rendering."""

    workflow_id: str
    version: int
    graph: dict[str, Any]
    graph_data: dict[str, Any]
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, version: WorkflowVersion) -> WorkflowVersionRead:
        return cls(
            workflow_id=version.workflow_id,
            version=version.version,
            graph=version.graph,
            graph_data=to_editor(WorkflowGraph.model_validate(version.graph)),
            created_by=version.created_by,
            created_at=version.created_at,
        )
