"""In-memory workflows, steps, room history and run claims (unit tests, local experiments)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from coagent_workflow_engine.domain import HistoryMessage, Run, Step
from coagent_workflow_engine.workflows.domain import Workflow, WorkflowVersion


@dataclass
class EngineTables:
    """Committed rows; each unit of work stages on a copy and swaps it in on commit."""

    workflows: dict[str, Workflow] = field(default_factory=dict)
    versions: dict[tuple[str, int], WorkflowVersion] = field(default_factory=dict)
    rooms: dict[str, str] = field(default_factory=dict)
    steps: dict[tuple[str, str, int], Step] = field(default_factory=dict)
    history: dict[str, list[HistoryMessage]] = field(default_factory=dict)
    #: (room, message id) of erased messages
    erased: set[tuple[str, str]] = field(default_factory=set)

    def copy(self) -> EngineTables:
        return EngineTables(
            workflows=dict(self.workflows),
            versions=dict(self.versions),
            rooms=dict(self.rooms),
            steps=dict(self.steps),
            history={room: list(messages) for room, messages in self.history.items()},
            erased=set(self.erased),
        )


class MemoryRunClaims:
    """The worker-facing run operations over a run repository's merged view."""

    def __init__(self, committed: dict[str, Run], staged: dict[str, Run]) -> None:
        self._committed, self._staged = committed, staged

    def _merged(self) -> dict[str, Run]:
        return {**self._committed, **self._staged}

    async def by_id(self, run_id: str) -> Run | None:
        return self._merged().get(run_id)

    async def by_idempotency_key(
        self, workflow_id: str, created_by: str | None, key: str
    ) -> Run | None:
        for run in self._merged().values():
            if (run.workflow_id, run.created_by, run.idempotency_key) == (
                workflow_id,
                created_by,
                key,
            ):
                return run
        return None

    async def save(self, run: Run) -> None:
        self._staged[run.id] = run

    async def claim(
        self, owner: str, lease_s: float, now: datetime, exclude: Collection[str] = ()
    ) -> Run | None:
        waiting = [
            r
            for r in self._merged().values()
            if r.status in ("queued", "running")
            and (r.lease_expires_at is None or r.lease_expires_at < now)
            and r.id not in exclude
        ]
        if not waiting:
            return None
        run = min(waiting, key=lambda r: (r.created_at, r.id))
        claimed = replace(
            run,
            status="running",
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_s),
            attempt=run.attempt + 1,
            started_at=run.started_at or now,
        )
        self._staged[run.id] = claimed
        return claimed

    async def renew(self, run_id: str, owner: str, lease_s: float, now: datetime) -> Run | None:
        run = self._merged().get(run_id)
        if run is None or run.lease_owner != owner or run.status != "running":
            return None
        renewed = replace(run, lease_expires_at=now + timedelta(seconds=lease_s))
        self._staged[run_id] = renewed
        return renewed


class MemorySteps:
    def __init__(self, tables: EngineTables) -> None:
        self._t = tables

    async def find(self, run_id: str, node_id: str, step: int) -> Step | None:
        return self._t.steps.get((run_id, node_id, step))

    async def put(self, step: Step) -> None:
        self._t.steps[(step.run_id, step.node_id, step.step)] = step

    async def of_run(self, run_id: str) -> list[Step]:
        steps = [s for s in self._t.steps.values() if s.run_id == run_id]
        return sorted(steps, key=lambda s: (s.step, s.started_at, s.node_id))


class MemoryWorkflows:
    def __init__(self, tables: EngineTables) -> None:
        self._t = tables

    async def add(self, workflow: Workflow) -> None:
        self._t.workflows[workflow.id] = workflow

    async def update(self, workflow: Workflow) -> None:
        self._t.workflows[workflow.id] = workflow

    async def get(self, workflow_id: str) -> Workflow | None:
        workflow = self._t.workflows.get(workflow_id)
        return workflow if workflow is not None and workflow.deleted_at is None else None

    async def of_owner(self, created_by: str | None) -> list[Workflow]:
        live = [
            w
            for w in self._t.workflows.values()
            if w.deleted_at is None and (created_by is None or w.created_by == created_by)
        ]
        return sorted(live, key=lambda w: (w.updated_at, w.id), reverse=True)

    async def add_version(self, version: WorkflowVersion) -> None:
        self._t.versions[(version.workflow_id, version.version)] = version

    async def version(self, workflow_id: str, number: int) -> WorkflowVersion | None:
        return self._t.versions.get((workflow_id, number))

    async def versions(self, workflow_id: str) -> list[WorkflowVersion]:
        found = [v for (w, _), v in self._t.versions.items() if w == workflow_id]
        return sorted(found, key=lambda v: v.version, reverse=True)

    async def room_workflow(self, room_id: str) -> str | None:
        return self._t.rooms.get(room_id)

    async def attach(self, room_id: str, workflow_id: str) -> None:
        self._t.rooms[room_id] = workflow_id

    async def detach(self, room_id: str) -> None:
        self._t.rooms.pop(room_id, None)


class MemoryHistory:
    def __init__(self, tables: EngineTables) -> None:
        self._t = tables

    async def add(self, message: HistoryMessage, keep: int) -> bool:
        room = self._t.history.setdefault(message.room_id, [])
        if (message.room_id, message.message_id) in self._t.erased:
            return False
        if any(m.message_id == message.message_id for m in room):
            return False
        room.append(message)
        room.sort(key=lambda m: m.seq)
        del room[:-keep]
        return True

    async def erase(self, room_id: str, message_ids: Sequence[str]) -> int:
        doomed = set(message_ids)
        self._t.erased.update((room_id, i) for i in doomed)
        room = self._t.history.get(room_id, [])
        kept = [m for m in room if m.message_id not in doomed]
        self._t.history[room_id] = kept
        return len(room) - len(kept)

    async def recent(self, room_id: str, limit: int) -> list[HistoryMessage]:
        return list(self._t.history.get(room_id, [])[-limit:])
