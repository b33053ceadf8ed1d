"""Arming time triggers inside a unit of work: on policy writes, human messages and matches.

Every arm is an ``@at`` schedule on the slot's own subject, queued in the same transaction as
the state it depends on; re-arming a slot replaces its pending schedule. Nothing here fires:
firing happens when the schedule falls due (:mod:`coagent_trigger.due_service`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from coagent_contracts.chat import MessagePostedData
from coagent_trigger.conditions import (
    CronConditions,
    Debounce,
    SilenceConditions,
    TimerConditions,
)
from coagent_trigger.domain import RoomActivity
from coagent_trigger.policies import Policy
from coagent_trigger.ports import UnitOfWork
from coagent_trigger.schedules import (
    CLOCK_SLOT,
    Arm,
    ClockState,
    DueKind,
    DueMessage,
    debounce_due,
    debounce_slot,
    first_instant,
    series_of,
    silence_due,
    silence_slot,
)
from coagent_trigger.scope import room_course

TIMED = frozenset({"silence", "timer", "cron"})


def periodic_conditions(policy: Policy) -> TimerConditions | CronConditions:
    """The parsed conditions of a timer or cron policy."""
    if policy.event_type == "timer":
        return TimerConditions.model_validate(policy.conditions)
    return CronConditions.model_validate(policy.conditions)


async def arm_clock(uow: UnitOfWork, policy: Policy, now: datetime) -> ClockState | None:
    """Start (or restart) a timer or cron policy's clock from ``now``; ``None`` past its end.

    An interval counts from ``now``: a resumed timer does not try to make up its pause.
    """
    conditions = periodic_conditions(policy)
    instant = first_instant(series_of(policy.id, conditions, now), now, conditions.end_at)
    if instant is None:
        await uow.clocks.delete(policy.id)
        return None
    state = ClockState(policy.id, now, instant)
    await uow.clocks.save(state)
    await uow.schedules.arm(clock_arm(policy, instant))
    return state


def clock_arm(policy: Policy, instant: datetime) -> Arm:
    """The schedule of a timer or cron policy's next instant."""
    kind: DueKind = "timer" if policy.event_type == "timer" else "cron"
    return Arm(CLOCK_SLOT, DueMessage(kind=kind, policy_id=policy.id, at=instant))


async def arm_silence(
    uow: UnitOfWork,
    policy: Policy,
    activity: RoomActivity,
    now: datetime,
    *,
    elapsed_too: bool = False,
) -> bool:
    """Arm the silence timer of ``policy`` in ``activity``'s room; False if there is nothing to
    wait for: no human message yet, or (unless ``elapsed_too``) a silence already elapsed.

    ``elapsed_too`` is for a message processed late (a backlog, a restart longer than the
    threshold): its silence has already elapsed and must still fire, so it is armed in the past
    and falls due at once.
    """
    last_human = activity.last_human_message_at
    if last_human is None:
        return False
    threshold = SilenceConditions.model_validate(policy.conditions).threshold_mins
    due = silence_due(last_human, threshold)
    if due <= now and not elapsed_too:
        return False
    message = DueMessage(
        kind="silence", policy_id=policy.id, room_id=activity.room_id, at=due, armed_for=last_human
    )
    await uow.schedules.arm(Arm(silence_slot(activity.room_id), message))
    return True


async def arm_silences_of_policy(uow: UnitOfWork, policy: Policy, now: datetime) -> int:
    """Arm a silence policy in every room it covers that is inside a silence period (a room
    silent for longer already waits for its next human message: creating a policy does not fire
    it in every long-quiet room). A course scope arms the course's rooms the projection knows;
    whether the owner may act on a room is checked when its silence falls due."""
    if policy.scope_session_id is not None:
        current = await uow.activity.get(policy.scope_session_id)
        rooms = [] if current is None else [current]
    else:
        rooms = await uow.activity.with_human_messages()
    if policy.scope_course_id is not None:
        of_course = await uow.rooms.ids_in_course(policy.scope_course_id)
        rooms = [a for a in rooms if a.room_id in of_course]
    armed = 0
    for activity in rooms:
        armed += await arm_silence(uow, policy, activity, now)
    return armed


async def rearm_silences_of_room(uow: UnitOfWork, activity: RoomActivity, now: datetime) -> int:
    """A human message restarts every active silence timer covering its room."""
    course = await room_course(uow, activity.room_id)
    armed = 0
    for policy in await uow.policies.active_for_room("silence", activity.room_id, course):
        armed += await arm_silence(uow, policy, activity, now, elapsed_too=True)
    return armed


async def arm_policy(uow: UnitOfWork, before: Policy | None, after: Policy, now: datetime) -> bool:
    """Bring a created or updated policy's schedules in line with it.

    Returns True when its previous schedules must be cancelled once the write has committed
    (it was paused, or stopped being a time trigger). An update that does not touch what the
    schedule depends on keeps the running clock, so renaming a policy does not shift its timer.
    """
    was_timed = before is not None and before.is_active and before.event_type in TIMED
    is_timed = after.is_active and after.event_type in TIMED
    if not is_timed:
        await uow.clocks.delete(after.id)
        return was_timed
    unchanged = (
        was_timed
        and before is not None
        and before.event_type == after.event_type
        and before.conditions == after.conditions
        and before.scope_session_id == after.scope_session_id
        and before.scope_course_id == after.scope_course_id
    )
    if unchanged:
        return False
    if after.event_type == "silence":
        await uow.clocks.delete(after.id)
        await arm_silences_of_policy(uow, after, now)
        # A narrowed scope leaves schedules of other rooms behind; they find no policy cover.
        return False
    await arm_clock(uow, after, now)
    return False


async def debounce_match(
    uow: UnitOfWork,
    policy: Policy,
    debounce: Debounce,
    message: MessagePostedData,
    event_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Count a matching message into the (policy, room) window and (re-)arm its close."""
    burst = await uow.bursts.observe(
        policy.id, message.room_id, now, message.seq, event_id, payload
    )
    due = debounce_due(burst.started_at, now, debounce.period_s, debounce.max_wait_s)
    await uow.bursts.set_due(policy.id, message.room_id, due)
    due_message = DueMessage(kind="debounce", policy_id=policy.id, room_id=message.room_id, at=due)
    await uow.schedules.arm(Arm(debounce_slot(message.room_id), due_message))
