"""The overlap projection: which runs of each (policy, room) slot are going, from the workflow
engine's run lifecycle events; releasing a buffered firing when its slot's run ends.

Each lifecycle event class has its own durable consumer, so one run's events may arrive in any
order; :func:`~coagent_trigger.overlap.seen_run` never reopens an ended run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from coagent_contracts.trigger import TriggerFiredData, is_room_fallback
from coagent_contracts.workflow import (
    RunCancelledV1,
    RunCompletedV1,
    RunFailedV1,
    RunQueuedV1,
    RunStartedV1,
)
from coagent_trigger.firing import publish_fired, send_cancel
from coagent_trigger.overlap import (
    ENDED_KEPT,
    RUNS_KEPT,
    RunSeen,
    RunStatus,
    TrackedRun,
    room_key,
    seen_run,
)
from coagent_trigger.ports import UnitOfWork, UnitOfWorkFactory

RunEvent = RunQueuedV1 | RunStartedV1 | RunCompletedV1 | RunFailedV1 | RunCancelledV1
#: Durable consumer of each lifecycle event class.
RUN_EVENT_CONSUMERS: dict[type[RunEvent], str] = {
    RunQueuedV1: "trigger-overlap-queued",
    RunStartedV1: "trigger-overlap-started",
    RunCompletedV1: "trigger-overlap-completed",
    RunFailedV1: "trigger-overlap-failed",
    RunCancelledV1: "trigger-overlap-cancelled",
}


def run_seen(event: RunEvent) -> RunSeen:
    """The run status, time and error one lifecycle event announces."""
    data = event.data
    status: RunStatus
    error: str | None = None
    if isinstance(event, RunQueuedV1):
        status = "queued"
    elif isinstance(event, RunStartedV1):
        status = "running"
    elif isinstance(event, RunCompletedV1):
        status = "succeeded"
    elif isinstance(event, RunFailedV1):
        status, error = event.data.status, event.data.error
    else:
        status, error = "cancelled", event.data.reason
    return RunSeen(data.run_id, data.workflow_id, status, event.occurred_at, error)


def _now() -> datetime:
    return datetime.now(UTC)


class OverlapService:
    """Keeps the tracked runs of policy-started runs and acts on their transitions."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Callable[[], datetime] = _now
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def runs(self, policy_id: str, limit: int) -> list[TrackedRun]:
        """The latest ``limit`` runs the policy started, newest fired first (callers check
        that the policy is the caller's)."""
        async with self._uow() as uow:
            return await uow.overlap.runs(policy_id, limit)

    async def on_run_event(self, event: RunEvent) -> bool:
        """Fold one lifecycle event of a policy-started run; False if not one or already seen.

        A run that a ``cancel_running`` firing asked to stop before its id was known is asked
        now; a run that ended releases its slot's buffered firing once nothing else is going.
        """
        data = event.data
        if data.policy_id is None or data.firing_key is None:
            return False  # a run started through the API: no overlap rule applies
        if is_room_fallback(data.policy_id):
            return False  # a room's fallback run: no policy, so no overlap rule
        consumer = RUN_EVENT_CONSUMERS[type(event)]
        now = self._clock()
        async with self._uow() as uow:
            if not await uow.claim(consumer, event.event_id):
                return False
            current = await uow.overlap.get(data.firing_key)
            slot = current.room_key if current is not None else room_key(data.room_id)
            await uow.overlap.lock(data.policy_id, slot)
            current = await uow.overlap.get(data.firing_key)  # re-read under the lock
            run = seen_run(
                current,
                run_seen(event),
                firing_key=data.firing_key,
                policy_id=data.policy_id,
                room_id=data.room_id,
                now=now,
            )
            await uow.overlap.save(run)
            if run.needs_cancel():
                await send_cancel(uow, run, now)
            if run.state == "ended":
                await uow.overlap.prune(data.policy_id, slot, now - ENDED_KEPT, RUNS_KEPT)
                await self._release_buffered(uow, data.policy_id, slot, data.run_id, now)
            await uow.commit()
        return True

    @staticmethod
    async def _release_buffered(
        uow: UnitOfWork, policy_id: str, slot: str, ended_run: str, now: datetime
    ) -> None:
        """Fire the slot's buffered firing if no run of the slot is going any more."""
        held = await uow.overlap.buffered(policy_id, slot)
        if held is None:
            return
        if any(r.is_going(now) for r in await uow.overlap.tracked(policy_id, slot)):
            return
        await uow.overlap.release(policy_id, slot)
        logged = await uow.firings.by_key(held.firing_key)
        if logged is None:
            return  # the policy (and its log) was deleted meanwhile
        data = TriggerFiredData.model_validate(held.event_data)
        await publish_fired(uow, data, slot, now)
        detail = {
            **logged.detail,
            "released_after_run_id": ended_run,
            "released_at": now.isoformat(),
        }
        await uow.firings.set_outcome(held.firing_key, "fired", detail)
