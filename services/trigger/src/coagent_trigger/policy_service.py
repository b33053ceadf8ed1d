"""Trigger policy use cases: CRUD with ownership, manual firing, and message-driven firing.

Every firing is written to the firing log (unique ``firing_key``) and its ``TriggerFiredV1`` to
the outbox in the same transaction, so a firing is either fully recorded and published or not at
all; the workflow engine then starts exactly one run per firing key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_contracts.envelope import uuid7
from coagent_contracts.trigger import TriggerEventType
from coagent_kit.tracing import EVENT_ID, ROOM_ID, span
from coagent_trigger.conditions import UserMessageConditions, validate_conditions
from coagent_trigger.dry_run import DryRun, replay
from coagent_trigger.fallback import decide, record_fallback
from coagent_trigger.firing import record_firing
from coagent_trigger.policies import (
    Caller,
    Firing,
    Policy,
    RoomOutOfScope,
    TriggerInactive,
    TriggerNotFound,
    matches_message,
    message_payload,
)
from coagent_trigger.ports import ScheduleCanceller, UnitOfWork, UnitOfWorkFactory
from coagent_trigger.rooms import AccessChecker
from coagent_trigger.scope import authorise_scope, covers
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.time_triggers import arm_policy, debounce_match

MESSAGE_POLICIES_CONSUMER = "trigger-message-policies"
#: Fields a PUT may change; ``None`` is a value only for the two scope fields.
UPDATABLE = (
    "name",
    "event_type",
    "conditions",
    "target_workflow_id",
    "scope_session_id",
    "is_active",
    "scope_course_id",
)


@dataclass(frozen=True)
class PolicyDraft:
    """What a client sends to create a policy."""

    name: str
    event_type: TriggerEventType
    conditions: dict[str, Any]
    target_workflow_id: str
    scope_session_id: str | None
    is_active: bool
    scope_course_id: str | None = None


@dataclass(frozen=True)
class Saved:
    """A stored policy and, only when this write created it, the webhook signing secret."""

    policy: Policy
    signing_secret: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class PolicyService:
    """Owns trigger policies and turns matching events into firings."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        box: SecretBox,
        clock: Callable[[], datetime] = _now,
        canceller: ScheduleCanceller | None = None,
        access: AccessChecker | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._box = box
        self._clock = clock
        self._canceller = canceller
        #: Asks the gateway whether a policy's owner (or a room's attacher) may act on a room, and
        #: whether a caller may set a scope; without one (unit tests of other rules) everyone is
        #: taken to have access.
        self._access = access

    # ------------------------------------------------------------------ CRUD

    async def create(self, caller: Caller, draft: PolicyDraft) -> Saved:
        """Validate and store a new policy owned by ``caller``, who must be able to act on the
        room or course it is scoped to (see :func:`~coagent_trigger.scope.authorise_scope`)."""
        validate_conditions(draft.event_type, draft.conditions)
        now = self._clock()
        secret = SecretBox.new_secret() if draft.event_type == "webhook" else None
        policy = Policy(
            id=str(uuid7()),
            name=draft.name,
            event_type=draft.event_type,
            conditions=draft.conditions,
            target_workflow_id=draft.target_workflow_id,
            scope_session_id=draft.scope_session_id,
            is_active=draft.is_active,
            created_by=caller.user_id,
            created_at=now,
            updated_at=now,
            secret_cipher=self._box.seal(secret) if secret else None,
            owner_role=caller.platform_role,
            scope_course_id=draft.scope_course_id,
        )
        await authorise_scope(self._access, caller, policy)
        async with self._uow() as uow:
            await uow.policies.save(policy)
            await arm_policy(uow, None, policy, now)
            await uow.commit()
        return Saved(policy, secret)

    async def visible(self, caller: Caller) -> list[Policy]:
        """The caller's policies, or every policy for an admin; newest first."""
        async with self._uow() as uow:
            return await uow.policies.owned_by(None if caller.is_admin else caller.user_id)

    async def get(self, caller: Caller, policy_id: str) -> Policy:
        """One policy the caller may see; anyone else's is a 404 like a missing one."""
        async with self._uow() as uow:
            return await self._visible(uow, caller, policy_id)

    async def update(self, caller: Caller, policy_id: str, changes: dict[str, Any]) -> Saved:
        """Apply the fields present in ``changes`` (a partial PUT) and revalidate the result.

        Conditions are checked against the resulting event type, so changing only the type of a
        policy whose conditions do not fit the new type is refused rather than stored broken.
        A policy that becomes a webhook gets a new signing secret, returned in this response.
        A new scope is authorised like on creation; the gateway is asked inside this write (a
        rare, user-driven one) so the scope stored is the scope checked.
        """
        unknown = set(changes) - set(UPDATABLE)
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        async with self._uow() as uow:
            current = await self._visible(uow, caller, policy_id)
            updated = replace(current, **changes, updated_at=self._clock())
            validate_conditions(updated.event_type, updated.conditions)
            await authorise_scope(self._access, caller, updated, current)
            secret = None
            if updated.event_type == "webhook" and updated.secret_cipher is None:
                secret = SecretBox.new_secret()
                updated = replace(updated, secret_cipher=self._box.seal(secret))
            elif updated.event_type != "webhook":
                updated = replace(updated, secret_cipher=None)
            await uow.policies.save(updated)
            stopped = await arm_policy(uow, current, updated, updated.updated_at)
            await uow.commit()
        if stopped:
            await self._cancel_schedules(policy_id)
        return Saved(updated, secret)

    async def delete(self, caller: Caller, policy_id: str) -> None:
        """Remove a policy with its firing log and counters."""
        async with self._uow() as uow:
            await self._visible(uow, caller, policy_id)
            await uow.policies.delete(policy_id)
            await uow.commit()
        await self._cancel_schedules(policy_id)

    async def _cancel_schedules(self, policy_id: str) -> None:
        """Drop a stopped policy's pending schedules (after the commit that stopped it)."""
        if self._canceller is not None:
            await self._canceller.cancel(policy_id)

    async def firings(self, caller: Caller, policy_id: str, limit: int) -> list[Firing]:
        """The policy's firing log, newest first."""
        async with self._uow() as uow:
            await self._visible(uow, caller, policy_id)
            return await uow.firings.latest(policy_id, limit)

    async def dry_run(
        self, caller: Caller, policy_id: str, messages: list[MessagePostedData]
    ) -> DryRun:
        """Which firings the policy would have made over ``messages``; nothing is written."""
        async with self._uow() as uow:
            policy = await self._visible(uow, caller, policy_id)
        return replay(policy, messages, self._clock())

    async def covers(self, policy: Policy, room_id: str) -> bool:
        """Whether ``policy``'s scope includes ``room_id`` (a course scope: per the projection)."""
        async with self._uow() as uow:
            return await covers(uow, policy, room_id)

    # ------------------------------------------------------------------ firing

    async def fire_manually(
        self,
        caller: Caller,
        policy_id: str,
        room_id: str | None,
        payload: dict[str, Any],
    ) -> Firing:
        """Fire ``policy_id`` now (a manual policy, or a test fire of any other type).

        Each request is its own firing: the source id is a fresh UUIDv7, so the key is
        ``<policy>:event:<uuid7>`` (the contract's key format for event-caused firings).
        A policy fired into a room must cover it (its room, a room of its course) and have an
        owner who may act on that room now.
        """
        async with self._uow() as uow:
            policy = await self._visible(uow, caller, policy_id)
            room = room_id if room_id is not None else policy.scope_session_id
            in_scope = room is None or await covers(uow, policy, room)
        if room is not None and in_scope:
            policy = await self._owner_in_room(policy, room)
        async with self._uow() as uow:
            if not policy.is_active:
                raise TriggerInactive(f"Trigger {policy_id} is not active")
            if not in_scope:
                raise RoomOutOfScope(f"Room {room} is outside the scope of trigger {policy_id}")
            source = str(uuid7())
            body = {**payload, "type": "manual"}
            firing = await self._fire(uow, policy, room, source, body, fired_by=caller.user_id)
            await uow.commit()
        assert firing is not None  # a fresh UUIDv7 key cannot be logged already
        return firing

    async def _owner_in_room(self, policy: Policy, room_id: str) -> Policy:
        """``policy`` with its owner's current role; 422 if the owner may not act on the room."""
        if self._access is None:
            return policy
        grant = await self._access.check(room_id, policy.created_by)
        if not grant.allowed:
            raise RoomOutOfScope(f"The owner of trigger {policy.id} may not act on that room")
        return replace(policy, owner_role=grant.platform_role or policy.owner_role)

    async def on_message(self, event: MessagePostedV1) -> list[Firing]:
        """Fire every ``user_message`` policy applying to the room that the message satisfies,
        or, when no policy applies to the room, the room's fallback (see :mod:`.fallback`).

        Idempotent by event id (inbox claim) and, below that, by firing key (unique column):
        a redelivered message fires nothing new. A policy with ``debounce`` does not fire here:
        the match joins the (policy, room) window, which fires once when it closes.
        """
        attributes = {ROOM_ID: event.data.room_id, EVENT_ID: event.event_id}
        with span("trigger.evaluate", attributes) as current:
            fired = await self._evaluate(event)
            current.set_attribute("coagent.firings", len(fired))
        return fired

    async def _evaluate(self, event: MessagePostedV1) -> list[Firing]:
        data = event.data
        async with self._uow() as uow:
            room = await uow.rooms.get(data.room_id)
            course = None if room is None else room.course_id
            candidates = await uow.policies.active_for_room("user_message", data.room_id, course)
        # Asked before the transaction: an answer may wait on the gateway, and no answer raises
        # (the message is redelivered with backoff, never decided without the check).
        decision = await decide(self._access, candidates, data, room)
        fired: list[Firing] = []
        async with self._uow() as uow:
            if not await uow.claim(MESSAGE_POLICIES_CONSUMER, event.event_id):
                return []
            for policy in decision.applying:
                firing = await self._match(uow, policy, event)
                if firing is not None:
                    fired.append(firing)
            if decision.fallback is not None:
                firing = await record_fallback(
                    uow,
                    decision.fallback,
                    source_event_id=event.event_id,
                    payload=message_payload(data, 1),
                    now=self._clock(),
                )
                if firing is not None:
                    fired.append(firing)
            await uow.commit()
        return fired

    async def _match(
        self, uow: UnitOfWork, policy: Policy, event: MessagePostedV1
    ) -> Firing | None:
        """Fire ``policy`` for the message if it matches (a debounced policy joins its window)."""
        data = event.data
        conditions = UserMessageConditions.model_validate(policy.conditions)
        if not matches_message(conditions, data):
            return None
        count = await uow.counters.increment(policy.id, data.room_id)
        if count % (conditions.message_count or 1):
            return None
        payload = message_payload(data, count)
        if conditions.debounce is not None:
            # Coalesced: the window's end fires once, with the last message.
            await debounce_match(
                uow, policy, conditions.debounce, data, event.event_id, payload, self._clock()
            )
            return None
        return await self._fire(uow, policy, data.room_id, event.event_id, payload)

    async def _fire(
        self,
        uow: UnitOfWork,
        policy: Policy,
        room_id: str | None,
        source_event_id: str,
        payload: dict[str, Any],
        fired_by: str | None = None,
    ) -> Firing | None:
        """Log one event-caused firing and queue its event; ``None`` if already fired."""
        return await record_firing(
            uow,
            policy,
            room_id,
            now=self._clock(),
            payload=payload,
            source_event_id=source_event_id,
            fired_by=fired_by,
        )

    @staticmethod
    async def _visible(uow: UnitOfWork, caller: Caller, policy_id: str) -> Policy:
        policy = await uow.policies.get(policy_id)
        if policy is None or not policy.visible_to(caller):
            raise TriggerNotFound(f"Trigger {policy_id} not found")
        return policy
