"""Recording one firing: the firing-log row and its ``TriggerFiredV1`` in the same transaction.

Every path that fires a policy (messages, schedules, webhooks, manual requests) goes through
:func:`record_firing`, so the exactly-once rule lives in one place: the firing key is unique in
the log and is the ``Nats-Msg-Id`` of the event, and the workflow engine starts one run per key.
The policy's overlap rule is applied here too, under a lock on its (policy, room) slot, so two
firings of the same slot cannot both decide that nothing is running.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any

from opentelemetry.trace import Span, SpanKind

from coagent_contracts.envelope import uuid7
from coagent_contracts.trigger import (
    TriggerFiredData,
    TriggerFiredV1,
    TriggerRunCancelRequestedData,
    TriggerRunCancelRequestedV1,
    firing_key,
)
from coagent_kit.tracing import POLICY_ID, ROOM_ID, new_trace, span
from coagent_trigger.metrics import record_firing_outcome
from coagent_trigger.overlap import (
    BufferedFiring,
    Decision,
    TrackedRun,
    decide,
    overlap_mode,
    room_key,
)
from coagent_trigger.policies import Firing, FiringOutcome, Policy
from coagent_trigger.ports import UnitOfWork

PRODUCER = "trigger"

_OUTCOMES: dict[str, tuple[FiringOutcome, str | None]] = {
    "fire": ("fired", None),
    "skip": ("skipped", "skipped_running"),
    "buffer": ("buffered", "buffered"),
    "cancel_and_fire": ("fired", "cancelled_previous"),
}


async def record_firing(
    uow: UnitOfWork,
    policy: Policy,
    room_id: str | None,
    *,
    now: datetime,
    payload: dict[str, Any],
    source_event_id: str | None = None,
    scheduled_for: datetime | None = None,
    fired_by: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Firing | None:
    """Log one firing, apply the overlap rule and queue what it decided; ``None`` if its key
    was already logged.

    Exactly one of ``source_event_id`` (messages, webhooks, manual requests) and
    ``scheduled_for`` (silences, timers, cron) identifies the firing, as in :func:`firing_key`.
    The returned firing's ``outcome`` says what happened: ``fired``, ``skipped`` (a run of the
    slot is going and the rule is ``skip``) or ``buffered`` (held until that run ends).
    """
    with _firing_span(policy, room_id, scheduled_for) as current:
        firing = await _record(
            uow, policy, room_id, now, payload, source_event_id, scheduled_for, fired_by, detail
        )
        current.set_attribute("coagent.firing_outcome", firing.outcome if firing else "duplicate")
    record_firing_outcome(policy, firing, scheduled_for, now)
    return firing


async def record_refused(
    uow: UnitOfWork,
    policy: Policy,
    room_id: str,
    *,
    now: datetime,
    source_event_id: str,
    reason: str,
    detail: dict[str, Any] | None = None,
) -> Firing | None:
    """Log a firing that was decided but not made (``skipped``, ``detail.refused`` says why),
    under the key it would have had, so a redelivered decision logs it once and nothing fires.
    ``None`` if its key was already logged."""
    key = firing_key(policy.id, source_event_id=source_event_id, room_id=room_id)
    firing = Firing(
        id=str(uuid7()),
        firing_key=key,
        policy_id=policy.id,
        event_type=policy.event_type,
        outcome="skipped",
        room_id=room_id,
        source_event_id=source_event_id,
        fired_by=None,
        created_at=now,
        detail={**(detail or {}), "refused": reason},
    )
    recorded = firing if await uow.firings.add(firing) else None
    record_firing_outcome(policy, recorded, None, now)
    return recorded


def _firing_span(
    policy: Policy, room_id: str | None, scheduled_for: datetime | None
) -> AbstractContextManager[Span]:
    """The ``trigger.fire`` span: in the trace of what caused the firing, except for time-based
    firings, which are actions of their own (linked to the due message): a cron policy's
    firings would otherwise all share the trace of the schedule that armed them."""
    attributes = {
        POLICY_ID: policy.id,
        ROOM_ID: room_id,
        "coagent.scheduled_for": scheduled_for.isoformat() if scheduled_for else None,
    }
    if scheduled_for is not None:
        return new_trace("trigger.fire", attributes, kind=SpanKind.INTERNAL)
    return span("trigger.fire", attributes)


async def _record(
    uow: UnitOfWork,
    policy: Policy,
    room_id: str | None,
    now: datetime,
    payload: dict[str, Any],
    source_event_id: str | None,
    scheduled_for: datetime | None,
    fired_by: str | None,
    detail: dict[str, Any] | None,
) -> Firing | None:
    key = firing_key(
        policy.id, scheduled_for=scheduled_for, source_event_id=source_event_id, room_id=room_id
    )
    mode = overlap_mode(policy.conditions)
    slot = room_key(room_id)
    await uow.overlap.lock(policy.id, slot)
    decision = decide(mode, await uow.overlap.tracked(policy.id, slot), now)
    outcome, overlap_note = _OUTCOMES[decision.action]
    logged = dict(detail or {})
    if "count" in payload:
        logged.setdefault("count", payload["count"])
    if overlap_note is not None:
        logged["overlap"] = overlap_note
        logged["running_run_ids"] = decision.run_ids
    firing = Firing(
        id=str(uuid7()),
        firing_key=key,
        policy_id=policy.id,
        event_type=policy.event_type,
        outcome=outcome,
        room_id=room_id,
        source_event_id=source_event_id,
        fired_by=fired_by,
        created_at=now,
        detail=logged,
    )
    if not await uow.firings.add(firing):
        return None
    if decision.action == "skip":
        return firing
    data = TriggerFiredData(
        policy_id=policy.id,
        workflow_id=policy.target_workflow_id,
        room_id=room_id,
        event_type=policy.event_type,
        firing_key=key,
        scheduled_for=scheduled_for,
        source_event_id=source_event_id,
        payload={**payload, "overlap": mode},
        fired_by=fired_by,
        owner_id=policy.created_by,
        owner_role=policy.owner_role,
    )
    if decision.action == "buffer":
        await _hold(uow, data, slot, now)
        return firing
    if decision.action == "cancel_and_fire":
        await _cancel_going(uow, decision, key, now)
    await publish_fired(uow, data, slot, now)
    return firing


async def publish_fired(uow: UnitOfWork, data: TriggerFiredData, slot: str, now: datetime) -> None:
    """Queue the firing's event and track it as a run in progress of its slot."""
    event = TriggerFiredV1(producer=PRODUCER, data=data)
    await uow.publish(event)
    await uow.overlap.save(
        TrackedRun(
            firing_key=data.firing_key,
            policy_id=data.policy_id,
            room_key=slot,
            state="pending",
            updated_at=now,
            workflow_id=data.workflow_id,
            kind=data.event_type,
            fired_event_id=event.event_id,
            fired_at=now,
        )
    )


async def send_cancel(
    uow: UnitOfWork, run: TrackedRun, now: datetime, superseded_by: str | None = None
) -> None:
    """Ask the engine to stop ``run`` (its run id is known) and remember it was asked."""
    assert run.run_id is not None
    await uow.publish(
        TriggerRunCancelRequestedV1(
            producer=PRODUCER,
            data=TriggerRunCancelRequestedData(
                policy_id=run.policy_id,
                run_id=run.run_id,
                room_id=run.room_key or None,
                firing_key=run.firing_key,
                superseded_by=superseded_by,
            ),
        )
    )
    await uow.overlap.save(_marked(run, sent=True, now=now))


def _marked(run: TrackedRun, *, sent: bool, now: datetime) -> TrackedRun:
    return replace(run, updated_at=now, cancel_requested=True, cancel_sent=sent)


async def _cancel_going(uow: UnitOfWork, decision: Decision, key: str, now: datetime) -> None:
    """Stop every run of the slot; a run the engine has not announced yet is stopped as soon
    as its first lifecycle event arrives (see the overlap projection)."""
    for run in decision.going:
        if run.run_id is not None:
            await send_cancel(uow, run, now, key)
        else:
            await uow.overlap.save(_marked(run, sent=False, now=now))


async def _hold(uow: UnitOfWork, data: TriggerFiredData, slot: str, now: datetime) -> None:
    """Keep ``data`` as the slot's one buffered firing; an earlier one is replaced (logged as
    skipped), so at most one run follows the one in progress."""
    earlier = await uow.overlap.buffered(data.policy_id, slot)
    if earlier is not None:
        replaced = await uow.firings.by_key(earlier.firing_key)
        if replaced is not None:
            note = {**replaced.detail, "overlap": "buffer_replaced", "replaced_by": data.firing_key}
            await uow.firings.set_outcome(earlier.firing_key, "skipped", note)
    await uow.overlap.hold(
        BufferedFiring(
            policy_id=data.policy_id,
            room_key=slot,
            firing_key=data.firing_key,
            created_at=now,
            event_data=data.model_dump(mode="json"),
        )
    )
