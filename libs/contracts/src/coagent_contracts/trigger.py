"""Trigger context: firings and the timer schedules behind them (publisher: trigger).

Exactly one run per firing: the firing key (policy id + scheduled instant, or policy id + source
event id) is the ``Nats-Msg-Id`` of :class:`TriggerFiredV1` and a unique column of the run, so a
re-fired timer or a redelivered source event is absorbed by JetStream dedup and by the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, TypeAdapter, model_validator

from coagent_contracts.envelope import Event, EventData, UtcDatetime, tagged_union
from coagent_contracts.subjects import SubjectToken, join_subject

__all__ = [
    "DUE_FILTER",
    "ROOM_FALLBACK_PREFIX",
    "FiringKind",
    "SCHEDULE_FILTER",
    "TRIGGER_EVENTS",
    "TRIGGER_EVENT_TYPES",
    "TriggerEvent",
    "TriggerEventType",
    "TriggerFiredData",
    "TriggerFiredV1",
    "TriggerRunCancelRequestedData",
    "TriggerRunCancelRequestedV1",
    "firing_key",
    "is_room_fallback",
    "room_fallback_policy_id",
    "run_cancel_requested_subject",
    "schedule_subject",
    "schedule_target",
    "trigger_fired_subject",
]

TriggerEventType = Literal["user_message", "silence", "timer", "cron", "webhook", "manual"]
"""What made a policy fire (the policy's ``event_type``)."""

FiringKind = Literal["policy", "room_fallback"]
"""Why a firing happened: a stored policy, or a room's attached workflow (its fallback when no
``user_message`` policy applies to the room)."""

ROOM_FALLBACK_PREFIX = "room-fallback-"
"""Prefix of the ``policy_id`` token a room's fallback firings carry (no stored policy has it)."""

SCHEDULE_FILTER = "trigger.schedule.>"
"""Every timer schedule subject (the messages that hold ``Nats-Schedule`` headers)."""

DUE_FILTER = "trigger.policy.*.due.v1"
"""Every schedule target: the trigger service consumes these when a timer falls due."""


def trigger_fired_subject(policy_id: str) -> str:
    """``trigger.policy.<policy_id>.fired.v1``."""
    return join_subject("trigger", "policy", policy_id, "fired", "v1")


def run_cancel_requested_subject(policy_id: str) -> str:
    """``trigger.policy.<policy_id>.run_cancel.requested.v1``."""
    return join_subject("trigger", "policy", policy_id, "run_cancel", "requested", "v1")


def schedule_subject(policy_id: str, key: str) -> str:
    """``trigger.schedule.<policy_id>.<key>``: the subject holding one timer's schedule.

    Re-publishing on the same subject replaces the pending schedule (re-arming a silence timer)
    and purging it cancels the timer, so ``key`` names one timer slot of the policy, e.g. the
    room id for a per-room silence timer.
    """
    return join_subject("trigger", "schedule", policy_id, key)


def schedule_target(policy_id: str) -> str:
    """``trigger.policy.<policy_id>.due.v1``: where a fired schedule message is delivered.

    It must be in the same stream as :func:`schedule_subject` and differ from it; both are
    under ``trigger.>``.
    """
    return join_subject("trigger", "policy", policy_id, "due", "v1")


def room_fallback_policy_id(room_id: str) -> str:
    """The ``policy_id`` of room ``room_id``'s fallback firings: ``room-fallback-<room_id>``.

    Fallback firings go through the same subject, key and run rules as policy firings, so they
    need a subject token; this one names the room and can never be a stored policy's id (those
    are UUIDs).
    """
    return ROOM_FALLBACK_PREFIX + room_id


def is_room_fallback(policy_id: str) -> bool:
    """Whether ``policy_id`` is a room fallback's token rather than a stored policy."""
    return policy_id.startswith(ROOM_FALLBACK_PREFIX)


def _utc_iso(instant: datetime) -> str:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("scheduled_for must be an aware datetime")
    # isoformat is deterministic for a given instant once in UTC, so equal instants given in
    # different offsets produce the same key.
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def firing_key(
    policy_id: str,
    *,
    scheduled_for: datetime | None = None,
    source_event_id: str | None = None,
    room_id: str | None = None,
) -> str:
    """Return the idempotency key of one firing of ``policy_id``.

    Exactly one of ``scheduled_for`` (timers, cron, silences: the instant the firing was due,
    written as UTC ISO 8601 with ``Z``) or ``source_event_id`` (the event that caused it: a
    message, a webhook delivery, a manual request) must be given. The policy id is always part of
    the key because one source event can fire several policies. A scheduled firing in a room
    also names the room: one unscoped silence policy falls due in two rooms at the same instant
    when their last messages had the same timestamp, and those are two firings. A source event
    already belongs to one room, so ``room_id`` does not change an event key.
    """
    if not policy_id:
        raise ValueError("policy_id must not be empty")
    if (scheduled_for is None) == (source_event_id is None):
        raise ValueError("give exactly one of scheduled_for or source_event_id")
    if scheduled_for is not None:
        room = "" if room_id is None else f"room:{room_id}:"
        return f"{policy_id}:{room}at:{_utc_iso(scheduled_for)}"
    if not source_event_id:
        raise ValueError("source_event_id must not be empty")
    return f"{policy_id}:event:{source_event_id}"


class TriggerFiredData(EventData):
    """A trigger policy fired; workflow-engine starts exactly one run per ``firing_key``."""

    policy_id: SubjectToken
    workflow_id: str = Field(min_length=1)
    room_id: str | None = None
    """Room the run acts in, null for policies not scoped to a room."""
    event_type: TriggerEventType
    firing_key: str = Field(min_length=1)
    """``firing_key(policy_id, …)`` of this firing; also the ``Nats-Msg-Id`` of the event."""
    scheduled_for: UtcDatetime | None = None
    """Instant the firing was due (timer, cron, silence); exclusive with ``source_event_id``."""
    source_event_id: str | None = None
    """Event that caused the firing (message, webhook, manual request)."""
    payload: dict[str, Any] = Field(default_factory=dict)
    """Input handed to the run (e.g. the triggering message, the webhook body)."""
    fired_by: str | None = None
    """User id for manual firings, null otherwise."""
    owner_id: str | None = None
    """Owner of the policy: the run starts only if they may run the workflow."""
    owner_role: str | None = None
    """The owner's platform role: as the gateway answered when the firing was decided for
    firings in a room, else as of the policy's creation (admins may run any workflow)."""
    kind: FiringKind = "policy"
    """``room_fallback``: the room's attached workflow ran because no ``user_message`` policy
    applies to the room; ``policy_id`` is then :func:`room_fallback_policy_id` and the owner is
    whoever attached the workflow."""

    @model_validator(mode="after")
    def _key_matches_source(self) -> Self:
        # The key is the dedup identity of the firing: a key that does not derive from the
        # firing's own source would let two different firings collapse into one run or one
        # firing produce two.
        expected = firing_key(
            self.policy_id,
            scheduled_for=self.scheduled_for,
            source_event_id=self.source_event_id,
            room_id=self.room_id,
        )
        if self.firing_key != expected:
            raise ValueError(f"firing_key {self.firing_key!r} should be {expected!r}")
        return self


class TriggerFiredV1(Event):
    """A trigger policy fired (``trigger.policy.<policy_id>.fired.v1``)."""

    FILTER: ClassVar[str] = "trigger.policy.*.fired.v1"

    type: Literal["trigger.policy.fired"] = "trigger.policy.fired"
    version: Literal[1] = 1
    data: TriggerFiredData

    @property
    def subject(self) -> str:
        """Subject keyed by the policy."""
        return trigger_fired_subject(self.data.policy_id)

    @property
    def msg_id(self) -> str:
        """The firing key, not the event id: re-firing the same slot must deduplicate."""
        return self.data.firing_key


class TriggerRunCancelRequestedData(EventData):
    """A policy's ``cancel_running`` overlap rule wants a run it started stopped.

    The workflow engine cancels ``run_id`` only if that run was started by ``policy_id`` (a
    policy can never stop anyone else's run) and it has not ended yet.
    """

    policy_id: SubjectToken
    run_id: str = Field(min_length=1)
    room_id: str | None = None
    firing_key: str = Field(min_length=1)
    """Key of the firing that started the run (the engine checks the run matches it)."""
    superseded_by: str | None = None
    """Key of the newer firing that made the policy cancel the run, when known."""


class TriggerRunCancelRequestedV1(Event):
    """Cancel a run a policy started (``trigger.policy.<policy_id>.run_cancel.requested.v1``)."""

    FILTER: ClassVar[str] = "trigger.policy.*.run_cancel.requested.v1"

    type: Literal["trigger.run_cancel.requested"] = "trigger.run_cancel.requested"
    version: Literal[1] = 1
    data: TriggerRunCancelRequestedData

    @property
    def subject(self) -> str:
        """Subject keyed by the policy."""
        return run_cancel_requested_subject(self.data.policy_id)


TriggerEvent = TriggerFiredV1 | TriggerRunCancelRequestedV1
"""Static type of any trigger event."""

TRIGGER_EVENT_TYPES: tuple[type[Event], ...] = (TriggerFiredV1, TriggerRunCancelRequestedV1)
"""Every trigger event class, in declaration order."""

TRIGGER_EVENTS: TypeAdapter[TriggerEvent] = TypeAdapter(tagged_union(*TRIGGER_EVENT_TYPES))
"""Validates any trigger event, discriminating on ``type`` and ``version``."""
