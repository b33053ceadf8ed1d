"""Overlap rules: what a new firing does while a run of the same policy and room is going.

The trigger service learns about runs from the workflow engine's lifecycle events and keeps one
:class:`TrackedRun` per firing it published. A firing is tracked from the moment it is
published (``pending``: the engine has not announced a run yet) so that two firings in quick
succession cannot both see "nothing running" before the first run is queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from coagent_trigger.conditions import Overlap

RunState = Literal["pending", "running", "ended"]
Action = Literal["fire", "skip", "buffer", "cancel_and_fire"]

#: A firing the engine never announced a run for stops counting as running after this long,
#: so a lost or refused firing cannot block its policy forever.
PENDING_TTL = timedelta(minutes=10)
#: How long an ended run is remembered: long enough for its other lifecycle events to arrive.
ENDED_KEPT = timedelta(hours=1)
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


def seen_run(
    current: TrackedRun | None,
    *,
    firing_key: str,
    policy_id: str,
    room_id: str | None,
    run_id: str,
    ended: bool,
    now: datetime,
) -> TrackedRun:
    """The tracked run after a lifecycle event of ``run_id``.

    Lifecycle events of one run reach trigger through different consumers, so they may arrive
    in any order: once ``ended``, a run never goes back to ``running``.
    """
    if current is None:
        current = TrackedRun(
            firing_key=firing_key,
            policy_id=policy_id,
            room_key=room_key(room_id),
            state="pending",
            updated_at=now,
        )
    state: RunState = "ended" if ended or current.state == "ended" else "running"
    return replace(current, state=state, updated_at=now, run_id=run_id)
