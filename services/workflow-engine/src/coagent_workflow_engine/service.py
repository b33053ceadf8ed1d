"""Run use cases: one run per trigger firing, direct execution, cancel, resume, retry, reads.

Runs are queued here and executed by the worker pool (``runtime.worker``); this module never
runs a graph itself, so the API answers 202 at once and a slow model never holds a request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from coagent_contracts.chat import MessagePostedV1, MessagesErasedV1
from coagent_contracts.envelope import Event, uuid7
from coagent_contracts.trigger import TriggerFiredV1, TriggerRunCancelRequestedV1
from coagent_contracts.workflow import RunQueuedData, RunQueuedV1
from coagent_kit.tracing import inject_headers
from coagent_workflow_engine.domain import (
    HistoryMessage,
    Run,
    RunAlreadyFinished,
    RunNotFound,
    RunNotInterrupted,
    RunTrigger,
    Step,
)
from coagent_workflow_engine.lifecycle import PRODUCER, cancelled, failed
from coagent_workflow_engine.metrics import record_run_finished
from coagent_workflow_engine.ports import UnitOfWork, UnitOfWorkFactory
from coagent_workflow_engine.workflows.domain import (
    Caller,
    Workflow,
    WorkflowInactive,
    WorkflowNotFound,
    WorkflowNotRunnable,
    can_access,
)
from coagent_workflow_engine.workflows.service import runnable_graph

__all__ = [
    "FIRINGS_CONSUMER",
    "HISTORY_CONSUMER",
    "HISTORY_ERASURES_CONSUMER",
    "POLICY_CANCELS_CONSUMER",
    "MAX_PAGE",
    "PRODUCER",
    "WorkflowEngineService",
    "run_queued",
]

FIRINGS_CONSUMER = "workflow-engine-firings"
HISTORY_CONSUMER = "workflow-engine-room-history"
HISTORY_ERASURES_CONSUMER = "workflow-engine-room-history-erasures"
POLICY_CANCELS_CONSUMER = "workflow-engine-policy-cancels"
MAX_PAGE = 100
#: Messages kept per room for agents' context windows (the largest useful window, bounded).
HISTORY_KEEP = 200

Clock = Callable[[], datetime]
Notify = Callable[[str], Awaitable[None]]


async def _nothing(_: str) -> None:
    return None


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
    """Owns runs; every run it creates is announced on JetStream.

    ``on_queued`` wakes this process's workers; ``on_cancel`` tells every engine process to stop
    a running run (core NATS in the app).
    """

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock = lambda: datetime.now(UTC),
        *,
        on_queued: Notify = _nothing,
        on_cancel: Notify = _nothing,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self.on_queued = on_queued
        self.on_cancel = on_cancel

    async def queue_run_for_firing(self, event: TriggerFiredV1) -> Run | None:
        """Create the one run of a firing and queue its event in the same transaction.

        The firing key is unique among runs, so a redelivered event or a second event for the
        same firing creates nothing (returns ``None``). The run pins the workflow's current
        version; a workflow that is unknown, inactive or not runnable, or that the policy's
        owner may not run, gives a run that is ``failed`` at once with the reason, so the
        firing is visible instead of silently lost.
        """
        firing = event.data
        trigger = RunTrigger(
            kind=firing.event_type,
            policy_id=firing.policy_id,
            firing_key=firing.firing_key,
            event_id=event.event_id,
        )
        async with self._uow() as uow:
            workflow = await uow.workflows.get(firing.workflow_id)
            run = Run.queued(
                run_id=str(uuid7()),
                workflow_id=firing.workflow_id,
                trigger=trigger,
                room_id=firing.room_id,
                now=self._clock(),
                workflow_version=workflow.current_version if workflow else 1,
                created_by=workflow.created_by if workflow else None,
                input=dict(firing.payload),
                trace_context=inject_headers(),
            )
            problem = _owner_may_not_run(event, workflow) or await _unrunnable(
                uow, workflow, firing.workflow_id
            )
            if not await uow.runs.add(run):
                return None
            await uow.publish(run_queued(run, cause=event))
            if problem is not None:
                run, failure = failed(run, self._clock(), *problem)
                await uow.runs.save(run)
                await uow.publish(failure)
            await uow.commit()
        record_run_finished(run)  # a firing its owner may not run fails at once
        if run.status == "queued":
            await self.on_queued(run.id)
        return run

    async def record_room_message(self, event: MessagePostedV1) -> bool:
        """Keep the room's recent messages for agents' prompts (idempotent by message id)."""
        data = event.data
        message = HistoryMessage(
            room_id=data.room_id,
            message_id=data.message_id,
            seq=data.seq,
            sender_kind=data.sender_kind,
            sender_name=data.sender_name,
            content=data.content,
            created_at=data.created_at,
            agent_id=data.agent_id,
        )
        async with self._uow() as uow:
            added = await uow.history.add(message, HISTORY_KEEP)
            await uow.commit()
        return added

    async def erase_room_messages(self, event: MessagesErasedV1) -> int:
        """Drop erased messages from the room history agents read (a redelivery is a no-op)."""
        async with self._uow() as uow:
            erased = await uow.history.erase(event.data.room_id, event.data.message_ids)
            await uow.commit()
        return erased

    async def execute(
        self,
        caller: Caller,
        workflow_id: str,
        room_id: str | None,
        payload: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> Run:
        """Queue a run of the current version (422 if it cannot run); a repeated
        ``Idempotency-Key`` returns the run the first call created."""
        async with self._uow() as uow:
            workflow = await _accessible(uow, caller, workflow_id)
            if idempotency_key is not None:
                earlier = await uow.runs.by_idempotency_key(
                    workflow_id, caller.user_id, idempotency_key
                )
                if earlier is not None:
                    return earlier
            problem = await _unrunnable(uow, workflow, workflow_id, check_active=False)
            if problem is not None:
                raise WorkflowNotRunnable(problem[1])
            run = Run.queued(
                run_id=str(uuid7()),
                workflow_id=workflow_id,
                trigger=None,
                room_id=room_id,
                now=self._clock(),
                workflow_version=workflow.current_version,
                created_by=caller.user_id,
                input=payload,
                idempotency_key=idempotency_key,
                trace_context=inject_headers(),
            )
            if not await uow.runs.add(run):  # a concurrent call with the same key won
                assert idempotency_key is not None
                earlier = await uow.runs.by_idempotency_key(
                    workflow_id, caller.user_id, idempotency_key
                )
                assert earlier is not None
                return earlier
            await uow.publish(run_queued(run))
            await uow.commit()
        await self.on_queued(run.id)
        return run

    async def retry(self, caller: Caller, workflow_id: str, run_id: str) -> Run:
        """A new run of the same version, room and input."""
        async with self._uow() as uow:
            await _accessible(uow, caller, workflow_id)
            old = await _run(uow, workflow_id, run_id)
            run = Run.queued(
                run_id=str(uuid7()),
                workflow_id=workflow_id,
                trigger=None,
                room_id=old.room_id,
                now=self._clock(),
                workflow_version=old.workflow_version,
                created_by=caller.user_id,
                input=old.input,
                trace_context=inject_headers(),
            )
            await uow.runs.add(run)
            await uow.publish(run_queued(run))
            await uow.commit()
        await self.on_queued(run.id)
        return run

    async def cancel(self, caller: Caller, workflow_id: str, run_id: str) -> Run:
        """Stop a run: at once if no worker holds it, else through its worker (≤ ~1 s)."""
        async with self._uow() as uow:
            await _accessible(uow, caller, workflow_id)
            run = await _run(uow, workflow_id, run_id)
            if run.is_terminal:
                return run
            if run.status in ("queued", "interrupted"):
                run, event = cancelled(run, self._clock(), "cancelled on request", caller.user_id)
                await uow.runs.save(run)
                await uow.publish(event)
            else:
                run = replace(run, cancel_requested=True)
                await uow.runs.save(run)
            await uow.commit()
        record_run_finished(run)  # cancelled while queued or waiting for input
        if run.status == "running":
            await self.on_cancel(run.id)
        return run

    async def cancel_for_policy(self, event: TriggerRunCancelRequestedV1) -> Run | None:
        """Stop a run because its policy's ``cancel_running`` rule fired again.

        Only a run started by that policy's firing (same policy id and firing key) is touched,
        so the request can never stop anyone else's run; an ended run is left as it is.
        """
        request = event.data
        async with self._uow() as uow:
            run = await uow.runs.by_id(request.run_id)
            trigger = run.trigger if run is not None else None
            if (
                run is None
                or trigger is None
                or (trigger.policy_id, trigger.firing_key)
                != (request.policy_id, request.firing_key)
                or run.is_terminal
            ):
                return None
            reason = "cancelled by a newer firing of its trigger policy"
            if run.status in ("queued", "interrupted"):
                run, cancel_event = cancelled(run, self._clock(), reason)
                await uow.runs.save(run)
                await uow.publish(cancel_event)
            else:
                run = replace(run, cancel_requested=True)
                await uow.runs.save(run)
            await uow.commit()
        record_run_finished(run)  # cancelled while queued or waiting for input
        if run.status == "running":
            await self.on_cancel(run.id)
        return run

    async def resume(self, caller: Caller, workflow_id: str, run_id: str, value: Any) -> Run:
        """Answer the human-input node an ``interrupted`` run waits on; the run is queued again."""
        async with self._uow() as uow:
            await _accessible(uow, caller, workflow_id)
            run = await _run(uow, workflow_id, run_id)
            if run.is_terminal:
                raise RunAlreadyFinished(f"Run {run_id} already ended ({run.status})")
            if run.status != "interrupted":
                raise RunNotInterrupted(f"Run {run_id} is {run.status}, not waiting for input")
            # The answer is a new action: the resumed part of the run joins the answer's trace.
            run = replace(
                run,
                status="queued",
                resume={"value": value},
                pending_input=None,
                trace_context=inject_headers() or run.trace_context,
            )
            await uow.runs.save(run)
            await uow.commit()
        await self.on_queued(run.id)
        return run

    async def list_runs(self, caller: Caller, workflow_id: str, limit: int = 20) -> list[Run]:
        """The latest runs of ``workflow_id``, newest first."""
        async with self._uow() as uow:
            await _accessible(uow, caller, workflow_id)
            return await uow.runs.list_for_workflow(workflow_id, min(max(limit, 1), MAX_PAGE))

    async def lookup_run(self, run_id: str) -> Run:
        """Any run by id, for the gateway's own access decision (it may follow runs of rooms
        whose workflows the caller does not own); :class:`RunNotFound` if there is none."""
        async with self._uow() as uow:
            run = await uow.runs.by_id(run_id)
        if run is None:
            raise RunNotFound(f"No run {run_id}")
        return run

    async def get_run(
        self, caller: Caller, workflow_id: str, run_id: str
    ) -> tuple[Run, list[Step]]:
        """One run of ``workflow_id`` and its steps; :class:`RunNotFound` if it has no such run."""
        async with self._uow() as uow:
            await _accessible(uow, caller, workflow_id)
            run = await _run(uow, workflow_id, run_id)
            return run, await uow.steps.of_run(run_id)


async def _accessible(uow: UnitOfWork, caller: Caller, workflow_id: str) -> Workflow:
    workflow = await uow.workflows.get(workflow_id)
    if workflow is None or not can_access(caller, workflow):
        raise WorkflowNotFound(f"Workflow {workflow_id} not found")
    return workflow


async def _run(uow: UnitOfWork, workflow_id: str, run_id: str) -> Run:
    run = await uow.runs.get(workflow_id, run_id)
    if run is None:
        raise RunNotFound(f"Workflow {workflow_id} has no run {run_id}")
    return run


def _owner_may_not_run(event: TriggerFiredV1, workflow: Workflow | None) -> tuple[str, str] | None:
    """A policy may start only workflows its owner may run (their own; any for admins).

    Firings that name no owner come from before owners were carried and are let through.
    """
    owner = event.data.owner_id
    if owner is None or workflow is None:
        return None
    if can_access(Caller(owner, event.data.owner_role or ""), workflow):
        return None
    return "policy_owner_forbidden", "the trigger policy's owner may not run this workflow"


async def _unrunnable(
    uow: UnitOfWork, workflow: Workflow | None, workflow_id: str, *, check_active: bool = True
) -> tuple[str, str] | None:
    """``(error_code, error)`` when a run of ``workflow`` cannot start, else ``None``."""
    if workflow is None:
        return WorkflowNotFound.code, f"workflow {workflow_id} does not exist"
    if check_active and not workflow.is_active:
        return WorkflowInactive.code, f"workflow {workflow_id} is not active"
    version = await uow.workflows.version(workflow_id, workflow.current_version)
    if version is None:
        return WorkflowNotRunnable.code, f"workflow {workflow_id} has no current version"
    try:
        runnable_graph(version)
    except WorkflowNotRunnable as exc:
        return exc.code, exc.detail
    return None
