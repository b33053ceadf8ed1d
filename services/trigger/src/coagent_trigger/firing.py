"""Recording one firing: the firing-log row and its ``TriggerFiredV1`` in the same transaction.

Every path that fires a policy (messages, schedules, webhooks, manual requests) goes through
:func:`record_firing`, so the exactly-once rule lives in one place: the firing key is unique in
the log and is the ``Nats-Msg-Id`` of the event, and the workflow engine starts one run per key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coagent_contracts.envelope import uuid7
from coagent_contracts.trigger import TriggerFiredData, TriggerFiredV1, firing_key
from coagent_trigger.policies import Firing, Policy
from coagent_trigger.ports import UnitOfWork

PRODUCER = "trigger"


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
    """Log one firing and queue its event; ``None`` if its key was already fired.

    Exactly one of ``source_event_id`` (messages, webhooks, manual requests) and
    ``scheduled_for`` (silences, timers, cron) identifies the firing, as in :func:`firing_key`.
    """
    key = firing_key(policy.id, scheduled_for=scheduled_for, source_event_id=source_event_id)
    logged = dict(detail or {})
    if "count" in payload:
        logged.setdefault("count", payload["count"])
    firing = Firing(
        id=str(uuid7()),
        firing_key=key,
        policy_id=policy.id,
        event_type=policy.event_type,
        outcome="fired",
        room_id=room_id,
        source_event_id=source_event_id,
        fired_by=fired_by,
        created_at=now,
        detail=logged,
    )
    if not await uow.firings.add(firing):
        return None
    await uow.publish(
        TriggerFiredV1(
            producer=PRODUCER,
            data=TriggerFiredData(
                policy_id=policy.id,
                workflow_id=policy.target_workflow_id,
                room_id=room_id,
                event_type=policy.event_type,
                firing_key=key,
                scheduled_for=scheduled_for,
                source_event_id=source_event_id,
                payload={**payload, "overlap": policy.conditions.get("overlap", "skip")},
                fired_by=fired_by,
            ),
        )
    )
    return firing
