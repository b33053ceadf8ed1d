"""Overlap rules: what a new firing does while a run of the same policy and room is going.

The trigger service learns about runs from the workflow engine's lifecycle events and keeps one
:class:`TrackedRun` per firing it published. A firing is tracked from the moment it is
published (``pending``: the engine has not announced a run yet) so that two firings in quick
succession cannot both see "nothing running" before the first run is queued. The same records,
with the status, times and error the lifecycle events carry, are the policy's run list.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from coagent_contracts.trigger import TriggerEventType
from coagent_trigger.conditions import Overlap

RunState = Literal["pending", "running", "ended"]
#: A run's status as the engine announced it (CONTRACTS "Runs"); ``interrupted`` is not among
#: the lifecycle events trigger follows, so such a run reads ``running`` here.
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "timed_out"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "timed_out"})
Action = Literal["fire", "skip", "buffer", "cancel_and_fire"]

#: A firing the engine never announced a run for stops counting as running after this long,
#: so a lost or refused firing cannot block its policy forever.
PENDING_TTL = timedelta(minutes=10)
#: An ended run is remembered at least this long, so a late lifecycle event cannot reopen it...
ENDED_KEPT = timedelta(hours=1)
#: ...and the latest this many of each (policy, room) slot stay longer, as the policy's run list.
RUNS_KEPT = 200
_NEVER = datetime.min.replace(tzinfo=UTC)
#: Room key of firings without a room (one slot per policy).
NO_ROOM = ""


def room_key(room_id: str | None) -> str:
    """The projection's key for ``room_id`` (``""`` for policies not bound to a room)."""
    return NO_ROOM if room_id is None else room_id


@dataclass(frozen=True)
class TrackedRun:
    """One published firing and, once the engine announced it, its run."""

    firing_key: str
    policy_id: str
    room_key: str
    state: RunState
    updated_at: datetime
    run_id: str | None = None
    #: A ``cancel_running`` firing wants this run stopped (sent once the run id is known).
    cancel_requested: bool = False
    cancel_sent: bool = False
    #: What the policy's run list shows: the firing (known when it was published) ...
    workflow_id: str | None = None
    kind: TriggerEventType | None = None
    fired_event_id: str | None = None
    fired_at: datetime | None = None
    #: ... and the run, as its lifecycle events told.
    status: RunStatus | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None

    @property
    def room_id(self) -> str | None:
        """The room the run acts in (``None`` for a policy not bound to a room)."""
        return self.room_key or None

    def is_going(self, now: datetime) -> bool:
        """Whether this firing still counts as a run in progress at ``now``."""
        if self.state == "ended":
            return False
        return self.state == "running" or now - self.updated_at < PENDING_TTL

    def needs_cancel(self) -> bool:
        """A cancel was asked for and can be sent now (the run id is known, not sent yet)."""
        return (
            self.cancel_requested
            and not self.cancel_sent
            and self.run_id is not None
            and self.state != "ended"
        )


def newest_fired(runs: list[TrackedRun]) -> list[TrackedRun]:
    """``runs`` newest fired first (as the run list shows them and pruning keeps them)."""
    return sorted(runs, key=lambda r: (r.fired_at or _NEVER, r.firing_key), reverse=True)


@dataclass(frozen=True)
class BufferedFiring:
    """The one firing a ``buffer_one`` policy holds back until the running run ends.

    ``event_data`` is the ``TriggerFiredData`` to publish then (JSON), so the run gets exactly
    the input it would have got at firing time.
    """

    policy_id: str
    room_key: str
    firing_key: str
    created_at: datetime
    event_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """What to do with a new firing, and the runs that made the difference."""

    action: Action
    going: tuple[TrackedRun, ...] = ()

    @property
    def run_ids(self) -> list[str]:
        """Ids of the runs in progress (those already announced by the engine)."""
        return [r.run_id for r in self.going if r.run_id is not None]


def decide(mode: Overlap, tracked: list[TrackedRun], now: datetime) -> Decision:
    """Apply the policy's overlap ``mode`` to the runs of its (policy, room) slot.

    Nothing going → fire. Otherwise ``skip`` drops the firing, ``buffer_one`` holds it until
    the run ends, ``cancel_running`` stops the runs and fires, ``allow`` fires alongside.
    """
    going = tuple(r for r in tracked if r.is_going(now))
    if not going or mode == "allow":
        return Decision("fire", going)
    if mode == "skip":
        return Decision("skip", going)
    if mode == "buffer_one":
        return Decision("buffer", going)
    return Decision("cancel_and_fire", going)


def overlap_mode(conditions: dict[str, Any]) -> Overlap:
    """The policy's overlap rule (``skip`` unless set; conditions were validated on write)."""
    mode = conditions.get("overlap", "skip")
    if mode not in ("skip", "buffer_one", "cancel_running", "allow"):
        return "skip"
    return cast(Overlap, mode)


@dataclass(frozen=True)
class RunSeen:
    """What one lifecycle event of a policy-started run says about it."""

    run_id: str
    workflow_id: str
    status: RunStatus
    at: datetime
    error: str | None = None

    @property
    def ends(self) -> bool:
        return self.status in TERMINAL


def _later_status(current: RunStatus | None, seen: RunStatus) -> RunStatus:
    """Statuses only move forward (queued → running → terminal); the first terminal one
    stays, whatever arrives after it."""
    if current is None:
        return seen
    if current in TERMINAL:
        return current
    if seen in TERMINAL or (current, seen) == ("queued", "running"):
        return seen
    return current


def seen_run(
    current: TrackedRun | None,
    seen: RunSeen,
    *,
    firing_key: str,
    policy_id: str,
    room_id: str | None,
    now: datetime,
) -> TrackedRun:
    """The tracked run after a lifecycle event of ``seen.run_id``.

    Lifecycle events of one run reach trigger through different consumers, so they may arrive
    in any order: once ``ended``, a run never goes back to ``running``, and its status, start
    and end are each taken from the event that set them.
    """
    if current is None:
        current = TrackedRun(
            firing_key=firing_key,
            policy_id=policy_id,
            room_key=room_key(room_id),
            state="pending",
            updated_at=now,
            fired_at=now,
        )
    state: RunState = "ended" if seen.ends or current.state == "ended" else "running"
    status = _later_status(current.status, seen.status)
    started_at = current.started_at
    if seen.status == "running" and started_at is None:
        started_at = seen.at
    finished_at, error = current.finished_at, current.error
    if seen.ends and finished_at is None:
        finished_at, error = seen.at, seen.error
    return replace(
        current,
        state=state,
        updated_at=now,
        run_id=seen.run_id,
        workflow_id=current.workflow_id or seen.workflow_id,
        status=status,
        started_at=started_at,
        finished_at=finished_at,
        error=error,
    )
