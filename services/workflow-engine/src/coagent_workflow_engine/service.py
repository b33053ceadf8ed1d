"""Workflow-engine use cases: one queued run per trigger firing, and reading runs back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from coagent_contracts.envelope import Event, uuid7
from coagent_contracts.trigger import TriggerFiredV1
from coagent_contracts.workflow import RunQueuedData, RunQueuedV1
from coagent_workflow_engine.domain import Run, RunNotFound, RunTrigger
from coagent_workflow_engine.ports import UnitOfWorkFactory

PRODUCER = "workflow-engine"
FIRINGS_CONSUMER = "workflow-engine-firings"
MAX_PAGE = 100

Clock = Callable[[], datetime]


def run_queued(run: Run, cause: Event | None = None) -> RunQueuedV1:
    """The integration event announcing a new queued run (caused by ``cause``, if any)."""
    trigger = run.trigger
    return RunQueuedV1(
        producer=PRODUCER,
        correlation_id=(cause.correlation_id or cause.event_id) if cause else None,
        causation_id=cause.event_id if cause else None,
        data=RunQueuedData(
            run_id=run.id,
            workflow_id=run.workflow_id,
            workflow_version=run.workflow_version,
            room_id=run.room_id,
            firing_key=trigger.firing_key if trigger else None,
            policy_id=trigger.policy_id if trigger else None,
        ),
    )


class WorkflowEngineService:
    """Owns runs; every run it creates is announced on JetStream."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock = lambda: datetime.now(UTC)
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def queue_run_for_firing(self, event: TriggerFiredV1) -> Run | None:
        """Create the one run of a firing and queue its event in the same transaction.

        The firing key is unique among runs, so a redelivered event or a second event for the
        same firing (another publisher, a replay) creates nothing; returns ``None`` then.
        """
        firing = event.data
        run = Run.queued(
            run_id=str(uuid7()),
            workflow_id=firing.workflow_id,
            trigger=RunTrigger(
                kind=firing.event_type,
                policy_id=firing.policy_id,
                firing_key=firing.firing_key,
                event_id=event.event_id,
            ),
            room_id=firing.room_id,
            now=self._clock(),
        )
        async with self._uow() as uow:
            if not await uow.runs.add(run):
                return None
            await uow.publish(run_queued(run, cause=event))
            await uow.commit()
        return run

    async def list_runs(self, workflow_id: str, limit: int = 20) -> list[Run]:
        """The latest runs of ``workflow_id``, newest first."""
        async with self._uow() as uow:
            return await uow.runs.list_for_workflow(workflow_id, min(max(limit, 1), MAX_PAGE))

    async def get_run(self, workflow_id: str, run_id: str) -> Run:
        """One run of ``workflow_id``; raises :class:`RunNotFound` if it has no such run."""
        async with self._uow() as uow:
            run = await uow.runs.get(workflow_id, run_id)
        if run is None:
            raise RunNotFound(f"Workflow {workflow_id} has no run {run_id}")
        return run
