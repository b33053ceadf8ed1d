"""Workflow documents: create, read, version, restore, delete, and the room's attached workflow.

Every save that carries a graph makes a new immutable version (drafts allowed: the graph must be
well formed, not yet runnable); runs pin the version they execute, so editing never changes what
a running or past run did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from coagent_contracts.envelope import uuid7
from coagent_contracts.gateway import RoomChangedData
from coagent_contracts.workflow import RoomWorkflowAttachedData, RoomWorkflowAttachedV1
from coagent_kit.logging import get_logger
from coagent_kit.unit_of_work import UnitOfWorkPort
from coagent_workflow_engine.graphs import WorkflowGraph, check_graph, parse_graph
from coagent_workflow_engine.workflows.domain import (
    ROOM_STAFF,
    Caller,
    NotRoomStaff,
    Workflow,
    WorkflowNotFound,
    WorkflowNotRunnable,
    WorkflowVersion,
    WorkflowVersionNotFound,
    can_access,
)
from coagent_workflow_engine.workflows.ports import WorkflowRepository
from coagent_workflow_engine.workflows.references import check_no_cycle

EMPTY_GRAPH: dict[str, Any] = {"nodes": [], "edges": []}
DEFAULT_NAME = "Default Workflow"

log = get_logger(__name__)

Clock = Callable[[], datetime]


class WorkflowsUnitOfWork(UnitOfWorkPort, Protocol):
    @property
    def workflows(self) -> WorkflowRepository: ...


WorkflowsUnitOfWorkFactory = Callable[[], WorkflowsUnitOfWork]
Current = tuple[Workflow, WorkflowVersion]


def canonical_graph(raw: object, previous_limits: dict[str, Any] | None = None) -> WorkflowGraph:
    """The canonical draft of ``raw`` (``GraphInvalid`` lists every problem).

    The reference editor saves ``{nodes, edges}`` only: limits set earlier (through the API) are
    carried over rather than silently reset to the defaults.
    """
    if isinstance(raw, dict) and "limits" not in raw and previous_limits:
        raw = {**raw, "limits": previous_limits}
    return parse_graph(raw, runnable=False)


def runnable_graph(version: WorkflowVersion) -> WorkflowGraph:
    """The graph of ``version`` if it can run; ``WorkflowNotRunnable`` says why not."""
    graph, problems = check_graph(version.graph, runnable=True)
    if graph is None:
        shown = "; ".join(
            f"{'/'.join(map(str, p['loc'])) or 'graph'}: {p['msg']}" for p in problems[:3]
        )
        raise WorkflowNotRunnable(
            f"workflow {version.workflow_id} version {version.version} cannot run: {shown}"
        )
    return graph


class WorkflowService:
    """Owner-or-admin access everywhere; room routes are for course staff (writes)."""

    def __init__(
        self, unit_of_work: WorkflowsUnitOfWorkFactory, clock: Clock = lambda: datetime.now(UTC)
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def create(
        self, caller: Caller, name: str, graph_data: object, is_active: bool
    ) -> Current:
        """A new workflow with version 1 (an empty graph is a valid draft)."""
        graph = canonical_graph(graph_data if graph_data is not None else EMPTY_GRAPH)
        async with self._uow() as uow:
            current = await self._create(uow, caller, name, graph, is_active)
            await uow.commit()
        return current

    async def list_for(self, caller: Caller) -> list[Current]:
        """The caller's workflows (every workflow for admins), newest update first."""
        async with self._uow() as uow:
            workflows = await uow.workflows.of_owner(None if caller.is_admin else caller.user_id)
            return [(wf, await _current(uow, wf)) for wf in workflows]

    async def get(self, caller: Caller, workflow_id: str) -> Current:
        async with self._uow() as uow:
            workflow = await _accessible(uow, caller, workflow_id)
            return workflow, await _current(uow, workflow)

    async def update(
        self,
        caller: Caller,
        workflow_id: str,
        *,
        name: str | None = None,
        graph_data: object = None,
        is_active: bool | None = None,
    ) -> Current:
        """Rename, (de)activate, and/or save a new version of the graph."""
        async with self._uow() as uow:
            workflow = await _accessible(uow, caller, workflow_id)
            current = await self._update(uow, caller, workflow, name, graph_data, is_active)
            await uow.commit()
        return current

    async def delete(self, caller: Caller, workflow_id: str) -> None:
        """Soft delete: runs keep pointing at their (still stored) versions."""
        async with self._uow() as uow:
            workflow = await _accessible(uow, caller, workflow_id)
            now = self._clock()
            await uow.workflows.update(replace(workflow, deleted_at=now, updated_at=now))
            await uow.commit()

    async def versions(self, caller: Caller, workflow_id: str) -> list[WorkflowVersion]:
        async with self._uow() as uow:
            await _accessible(uow, caller, workflow_id)
            return await uow.workflows.versions(workflow_id)

    async def version(self, caller: Caller, workflow_id: str, number: int) -> WorkflowVersion:
        async with self._uow() as uow:
            await _accessible(uow, caller, workflow_id)
            return await _version(uow, workflow_id, number)

    async def restore(self, caller: Caller, workflow_id: str, number: int) -> Current:
        """A new version whose graph is version ``number``'s (history is never rewritten)."""
        async with self._uow() as uow:
            workflow = await _accessible(uow, caller, workflow_id)
            old = await _version(uow, workflow_id, number)
            current = await self._new_version(
                uow, caller, workflow, WorkflowGraph.model_validate(old.graph)
            )
            await uow.commit()
        return current

    async def room_workflow(self, room_id: str) -> Current | None:
        """The room's attached workflow (any member may read it; the gateway checked that)."""
        async with self._uow() as uow:
            workflow_id = await uow.workflows.room_workflow(room_id)
            workflow = await uow.workflows.get(workflow_id) if workflow_id else None
            return None if workflow is None else (workflow, await _current(uow, workflow))

    async def put_room_workflow(
        self,
        caller: Caller,
        room_id: str,
        *,
        name: str | None = None,
        graph_data: object = None,
        is_active: bool | None = None,
    ) -> Current:
        """Update the attached workflow, or create and attach one (the reference's upsert).

        The gateway owns the room's ``attached_workflow_id``: attaching a new workflow is
        announced (in the same transaction) so it records the workflow and who attached it.
        """
        if not (caller.is_admin or caller.resource_role in ROOM_STAFF):
            raise NotRoomStaff("Only the course's staff may change the room's workflow")
        async with self._uow() as uow:
            workflow_id = await uow.workflows.room_workflow(room_id)
            workflow = await uow.workflows.get(workflow_id) if workflow_id else None
            if workflow is None:
                graph = canonical_graph(graph_data if graph_data is not None else EMPTY_GRAPH)
                active = True if is_active is None else is_active
                current = await self._create(uow, caller, name or DEFAULT_NAME, graph, active)
                await uow.workflows.attach(room_id, current[0].id)
                await uow.publish(_attached(room_id, current[0].id, caller.user_id))
            else:
                current = await self._update(uow, caller, workflow, name, graph_data, is_active)
            await uow.commit()
        return current

    async def follow_room(self, room: RoomChangedData) -> bool:
        """Keep the room's attachment in step with the gateway, which owns it; True if changed.

        A workflow this engine does not know is not attached (the gateway does not check ids).
        """
        wanted = None if room.deleted else room.attached_workflow_id
        async with self._uow() as uow:
            if wanted == await uow.workflows.room_workflow(room.room_id):
                return False
            if wanted is None:
                await uow.workflows.detach(room.room_id)
            elif await uow.workflows.get(wanted) is None:
                log.warning("room_workflow_unknown", room_id=room.room_id, workflow_id=wanted)
                return False
            else:
                await uow.workflows.attach(room.room_id, wanted)
            await uow.commit()
        return True

    # -- internals ------------------------------------------------------------------------------

    async def _create(
        self,
        uow: WorkflowsUnitOfWork,
        caller: Caller,
        name: str,
        graph: WorkflowGraph,
        is_active: bool,
    ) -> Current:
        now = self._clock()
        workflow = Workflow(
            id=str(uuid7()),
            name=name,
            created_by=caller.user_id,
            is_active=is_active,
            current_version=1,
            limits=graph.limits.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        version = WorkflowVersion(
            workflow.id, 1, graph.model_dump(mode="json"), caller.user_id, now
        )
        await uow.workflows.add(workflow)
        await uow.workflows.add_version(version)
        return workflow, version

    async def _update(
        self,
        uow: WorkflowsUnitOfWork,
        caller: Caller,
        workflow: Workflow,
        name: str | None,
        graph_data: object,
        is_active: bool | None,
    ) -> Current:
        if graph_data is not None:
            graph = canonical_graph(graph_data, workflow.limits)
            workflow, version = await self._new_version(uow, caller, workflow, graph)
        else:
            version = await _current(uow, workflow)
        if is_active and not workflow.is_active:
            runnable_graph(version)  # activation is where a draft must become runnable
        changes: dict[str, Any] = {"updated_at": self._clock()}
        if name is not None:
            changes["name"] = name
        if is_active is not None:
            changes["is_active"] = is_active
        workflow = replace(workflow, **changes)
        await uow.workflows.update(workflow)
        return workflow, version

    async def _new_version(
        self, uow: WorkflowsUnitOfWork, caller: Caller, workflow: Workflow, graph: WorkflowGraph
    ) -> Current:
        await check_no_cycle(uow.workflows, workflow.id, graph)
        now = self._clock()
        number = workflow.current_version + 1
        version = WorkflowVersion(
            workflow.id, number, graph.model_dump(mode="json"), caller.user_id, now
        )
        await uow.workflows.add_version(version)
        workflow = replace(
            workflow,
            current_version=number,
            limits=graph.limits.model_dump(mode="json"),
            updated_at=now,
        )
        await uow.workflows.update(workflow)
        return workflow, version


def _attached(room_id: str, workflow_id: str, user_id: str) -> RoomWorkflowAttachedV1:
    return RoomWorkflowAttachedV1(
        producer="workflow-engine",
        data=RoomWorkflowAttachedData(
            room_id=room_id, workflow_id=workflow_id, attached_by=user_id
        ),
    )


async def _accessible(uow: WorkflowsUnitOfWork, caller: Caller, workflow_id: str) -> Workflow:
    workflow = await uow.workflows.get(workflow_id)
    if workflow is None or not can_access(caller, workflow):
        raise WorkflowNotFound(f"Workflow {workflow_id} not found")
    return workflow


async def _current(uow: WorkflowsUnitOfWork, workflow: Workflow) -> WorkflowVersion:
    return await _version(uow, workflow.id, workflow.current_version)


async def _version(uow: WorkflowsUnitOfWork, workflow_id: str, number: int) -> WorkflowVersion:
    version = await uow.workflows.version(workflow_id, number)
    if version is None:
        raise WorkflowVersionNotFound(f"Workflow {workflow_id} has no version {number}")
    return version
