"""What a fallen-due schedule fires: silences, timer and cron instants, debounce windows.

A due message only says "look again now": the decision is taken from the stored state (the
room-activity projection, the policy's clock, the debounce window) inside one transaction, so a
stale, replaced or redelivered schedule fires nothing it should not. Every firing goes through
:func:`~coagent_trigger.firing.record_firing` with a key that names the instant (or the last
coalesced message), so even a decision taken twice records one firing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from coagent_kit.logging import get_logger
from coagent_trigger.conditions import SilenceConditions
from coagent_trigger.firing import record_firing, record_refused
from coagent_trigger.policies import Firing, Policy
from coagent_trigger.ports import UnitOfWork, UnitOfWorkFactory
from coagent_trigger.rooms import Access, AccessChecker
from coagent_trigger.schedules import (
    Arm,
    DueMessage,
    debounce_slot,
    plan_due,
    reached,
    series_of,
    silence_due,
)
from coagent_trigger.scope import covers
from coagent_trigger.time_triggers import arm_silence, clock_arm, periodic_conditions

SCHEDULES_CONSUMER = "trigger-schedules"
#: ``detail.refused`` of a debounce window closed while its owner may not act on the room.
OWNER_NO_ACCESS = "owner_no_access"
log = get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class DueService:
    """Turns due schedules into firings."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Callable[[], datetime] = _now,
        access: AccessChecker | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._access = access

    async def on_due(self, due: DueMessage) -> list[Firing]:
        """Fire what ``due`` stands for, if it still should; returns the recorded firings."""
        grant = await self._owner_grant(due)
        if grant is not None and not grant.allowed:
            return await self._refused(due)
        async with self._uow() as uow:
            policy = await uow.policies.get(due.policy_id)
            if policy is not None and grant is not None and grant.platform_role:
                policy = replace(policy, owner_role=grant.platform_role)
            if policy is None or not policy.is_active:
                if due.kind == "debounce" and due.room_id is not None:
                    # A paused policy's window closes without firing.
                    await uow.bursts.delete(due.policy_id, due.room_id)
                    await uow.commit()
                return []
            fired = await self._dispatch(uow, policy, due)
            await uow.commit()
        return fired

    async def _owner_grant(self, due: DueMessage) -> Access | None:
        """Whether the policy's owner may act on the due message's room now, with their current
        role (asked before the transaction; no answer raises, so the due message is retried).
        None when there is nothing to ask: no room, no checker wired, or no such policy."""
        if self._access is None or due.room_id is None:
            return None
        async with self._uow() as uow:
            policy = await uow.policies.get(due.policy_id)
        if policy is None:
            return None
        return await self._access.check(due.room_id, policy.created_by)

    async def _refused(self, due: DueMessage) -> list[Firing]:
        """The owner may not act on the room now: a closing debounce window is logged as
        ``skipped`` (``detail.refused: owner_no_access``) and closed, so its matches are
        accounted for; other kinds fire nothing (their next instant asks again)."""
        if due.kind != "debounce" or due.room_id is None:
            return []
        async with self._uow() as uow:
            policy = await uow.policies.get(due.policy_id)
            if policy is None or policy.event_type != "user_message":
                return []
            if not policy.is_active:
                # A paused policy's window closes without firing or logging, as when allowed.
                await uow.bursts.delete(policy.id, due.room_id)
                await uow.commit()
                return []
            fired = await self._debounce(uow, policy, due.room_id, self._clock(), refused=True)
            await uow.commit()
        return fired

    async def _dispatch(self, uow: UnitOfWork, policy: Policy, due: DueMessage) -> list[Firing]:
        now = self._clock()
        if due.room_id is not None and not await covers(uow, policy, due.room_id):
            return []
        if due.kind == "silence" and policy.event_type == "silence" and due.room_id:
            return await self._silence(uow, policy, due.room_id, now)
        if due.kind in ("timer", "cron") and policy.event_type == due.kind:
            return await self._clock_due(uow, policy, due, now)
        if due.kind == "debounce" and policy.event_type == "user_message" and due.room_id:
            return await self._debounce(uow, policy, due.room_id, now)
        return []

    async def _silence(
        self, uow: UnitOfWork, policy: Policy, room_id: str, now: datetime
    ) -> list[Firing]:
        """Fire if the room's *current* silence has lasted the threshold.

        A due message armed from an older human message finds a later one in the projection:
        that silence has not elapsed, so it only makes sure the current one is armed.
        """
        # Locked like a message being recorded: a human message committing at this very moment
        # is either seen here (and re-arms) or comes after the firing, never half of each.
        activity = await uow.activity.get(room_id, for_update=True)
        if activity is None or activity.last_human_message_at is None:
            return []
        threshold = SilenceConditions.model_validate(policy.conditions).threshold_mins
        due_at = silence_due(activity.last_human_message_at, threshold)
        if not reached(due_at, now):
            await arm_silence(uow, policy, activity, now)
            return []
        payload = {
            "type": "silence",
            "room_id": room_id,
            "silent_since": activity.last_human_message_at.isoformat(),
            "threshold_mins": threshold,
        }
        firing = await record_firing(
            uow,
            policy,
            room_id,
            now=now,
            payload=payload,
            scheduled_for=due_at,
            detail={"late_ms": _late_ms(due_at, now)},
        )
        return [] if firing is None else [firing]

    async def _clock_due(
        self, uow: UnitOfWork, policy: Policy, due: DueMessage, now: datetime
    ) -> list[Firing]:
        """Fire the clock's armed instant (and any since, within the grace), arm the next."""
        state = await uow.clocks.get(policy.id, for_update=True)
        if state is None:
            return []  # paused, ended or deleted since this was armed
        if not reached(state.next_at, now):
            # Stale (the clock moved on) or early: make sure the armed instant is scheduled.
            await uow.schedules.arm(clock_arm(policy, state.next_at))
            return []
        conditions = periodic_conditions(policy)
        series = series_of(policy.id, conditions, state.anchor_at)
        plan = plan_due(series, state.next_at, now, conditions.catch_up, conditions.end_at)
        if plan.skipped:
            # Older than the grace and not caught up: visible to operators, not in the firing log.
            log.warning("timer_instants_missed", policy_id=policy.id, skipped=plan.skipped)
        fired: list[Firing] = []
        for instant in plan.fire:
            payload: dict[str, Any] = {
                "type": policy.event_type,
                "scheduled_for": instant.isoformat(),
                "catch_up": instant == plan.caught_up,
            }
            if policy.scope_course_id is not None:
                # Fired once, with no room, like an unscoped clock; the run learns the course.
                payload["course_id"] = policy.scope_course_id
            detail: dict[str, Any] = {"late_ms": _late_ms(instant, now)}
            if instant == plan.caught_up:
                detail["caught_up"] = True
                detail["skipped"] = plan.skipped
            firing = await record_firing(
                uow,
                policy,
                policy.scope_session_id,
                now=now,
                payload=payload,
                scheduled_for=instant,
                detail=detail,
            )
            if firing is not None:
                fired.append(firing)
        if plan.next_at is None:
            await uow.clocks.delete(policy.id)
        else:
            await uow.clocks.save(replace(state, next_at=plan.next_at))
            await uow.schedules.arm(clock_arm(policy, plan.next_at))
        return fired

    async def _debounce(
        self, uow: UnitOfWork, policy: Policy, room_id: str, now: datetime, *, refused: bool = False
    ) -> list[Firing]:
        """Close the (policy, room) window once its end has come: one firing, last message
        (``refused``: the owner may not act on the room now, so it is logged, not fired)."""
        burst = await uow.bursts.take(policy.id, room_id)
        if burst is None:
            return []  # already closed (a redelivery) or never opened
        if not reached(burst.due_at, now):
            # The window was extended after this schedule was armed: its later end is armed.
            message = DueMessage(
                kind="debounce", policy_id=policy.id, room_id=room_id, at=burst.due_at
            )
            await uow.schedules.arm(Arm(debounce_slot(room_id), message))
            return []
        await uow.bursts.delete(policy.id, room_id)
        if refused:
            detail = {"debounced": burst.count, "late_ms": _late_ms(burst.due_at, now)}
            refusal = await record_refused(
                uow,
                policy,
                room_id,
                now=now,
                source_event_id=burst.last_event_id,
                reason=OWNER_NO_ACCESS,
                detail=detail,
            )
            return [] if refusal is None else [refusal]
        payload = {
            **burst.payload,
            "count": burst.count,
            "debounce": {"count": burst.count, "first_at": burst.started_at.isoformat()},
        }
        firing = await record_firing(
            uow,
            policy,
            room_id,
            now=now,
            payload=payload,
            source_event_id=burst.last_event_id,
            detail={"debounced": burst.count, "late_ms": _late_ms(burst.due_at, now)},
        )
        return [] if firing is None else [firing]


def _late_ms(instant: datetime, now: datetime) -> int:
    return max(0, round((now - instant).total_seconds() * 1000))
