"""Time-trigger rules, free of I/O: the instants of a timer or cron policy, jitter, catch-up.

Timers are NATS message schedules: the service arms one ``@at`` schedule per timer slot (a
policy's clock, a (policy, room) silence or debounce window), and the server delivers it back
as a *due* message when it falls due. Every decision about what a due message fires is made
here, from the due message, the policy and the current time.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]
from pydantic import AwareDatetime, BaseModel, ConfigDict

from coagent_contracts.trigger import schedule_subject, schedule_target
from coagent_trigger.conditions import CatchUp, CronConditions, TimerConditions

#: A firing delivered at most this late is on time; an older one was missed (the service or
#: the broker was down) and the policy's ``catch_up`` decides what happens to it.
MISFIRE_GRACE = timedelta(seconds=60)
#: Due messages may arrive this much early (millisecond rounding of ``@at``, clock skew between
#: the broker and this service); within it an instant counts as reached.
EARLY_TOLERANCE = timedelta(milliseconds=50)
#: On-time instants fired by one due message at most (a long outage with a tiny interval).
MAX_FIRED_PER_DUE = 500
#: The slot of a timer or cron policy: one schedule per policy.
CLOCK_SLOT = "clock"

DueKind = Literal["silence", "timer", "cron", "debounce"]


class DueMessage(BaseModel):
    """The body of a schedule: what to re-check when it falls due.

    ``at`` is the instant the schedule was armed for (exact, unlike the ``@at`` header, which
    has millisecond resolution); ``armed_for`` is the last human message a silence timer was
    armed from.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DueKind
    policy_id: str
    room_id: str | None = None
    at: AwareDatetime
    armed_for: AwareDatetime | None = None


@dataclass(frozen=True)
class Arm:
    """One schedule to (re-)arm; re-arming a slot replaces its pending schedule."""

    slot: str
    due: DueMessage

    @property
    def subject(self) -> str:
        return schedule_subject(self.due.policy_id, self.slot)

    @property
    def target(self) -> str:
        return schedule_target(self.due.policy_id)

    def header(self) -> str:
        """``@at`` in RFC 3339 UTC, rounded *up* to the millisecond so it never fires early."""
        at = self.due.at.astimezone(UTC)
        rounded = at + timedelta(microseconds=(-at.microsecond) % 1000)
        return "@at " + rounded.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def silence_slot(room_id: str) -> str:
    return f"silence-{room_id}"


def debounce_slot(room_id: str) -> str:
    return f"debounce-{room_id}"


def silence_due(last_human_message_at: datetime, threshold_mins: float) -> datetime:
    """When a room whose last human message is at ``last_human_message_at`` becomes silent."""
    return last_human_message_at + timedelta(minutes=threshold_mins)


def reached(instant: datetime, now: datetime) -> bool:
    """Whether ``instant`` has come, allowing for an early delivery."""
    return instant <= now + EARLY_TOLERANCE


class Series(Protocol):
    """The instants of a periodic policy, in increasing order."""

    def after(self, instant: datetime) -> datetime:
        """The first instant strictly after ``instant``."""
        ...

    def before(self, instant: datetime) -> datetime | None:
        """The last instant at or before ``instant``, if any."""
        ...


def jitter_fraction(policy_id: str, index: int) -> float:
    """A fraction in [0, 1) fixed by (policy, index): a re-computed instant never moves."""
    digest = hashlib.sha256(f"{policy_id}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class IntervalSeries:
    """``anchor + k·interval + jitter(k)`` for k ≥ 1.

    The jitter is capped at half the interval so that instants stay in order and at least half
    an interval apart, whatever ``jitter_s`` says.
    """

    policy_id: str
    anchor: datetime
    interval_s: float
    jitter_s: float = 0.0

    def instant(self, index: int) -> datetime:
        spread = min(self.jitter_s, self.interval_s / 2)
        offset = index * self.interval_s + spread * jitter_fraction(self.policy_id, index)
        return self.anchor + timedelta(seconds=offset)

    def _index(self, instant: datetime) -> int:
        return math.floor((instant - self.anchor).total_seconds() / self.interval_s)

    def after(self, instant: datetime) -> datetime:
        k = max(self._index(instant), 1)
        first = self.instant(k)
        return first if first > instant else self.instant(k + 1)

    def before(self, instant: datetime) -> datetime | None:
        k = self._index(instant)
        if k >= 1 and self.instant(k) <= instant:
            return self.instant(k)
        return self.instant(k - 1) if k - 1 >= 1 else None


@dataclass(frozen=True)
class CronSeries:
    """A cron expression read in an IANA time zone; 6 fields put the seconds first."""

    expression: str
    timezone: str

    def _iter(self, instant: datetime) -> croniter:
        local = instant.astimezone(ZoneInfo(self.timezone))
        return croniter(
            self.expression, local, second_at_beginning=len(self.expression.split()) == 6
        )

    def after(self, instant: datetime) -> datetime:
        found: datetime = self._iter(instant).get_next(datetime)
        return found.astimezone(UTC)

    def before(self, instant: datetime) -> datetime | None:
        # get_prev is strictly before its start: start just after ``instant`` to include it.
        found: datetime = self._iter(instant + timedelta(microseconds=1)).get_prev(datetime)
        return found.astimezone(UTC)


def series_of(
    policy_id: str, conditions: TimerConditions | CronConditions, anchor: datetime
) -> Series:
    """The instants of a timer (counted from ``anchor``) or cron policy."""
    if isinstance(conditions, TimerConditions):
        return IntervalSeries(
            policy_id, anchor, conditions.interval_mins * 60.0, conditions.jitter_s
        )
    return CronSeries(conditions.cron, conditions.timezone)


@dataclass(frozen=True)
class Plan:
    """What one due message of a periodic policy does: instants to fire, instants skipped, and
    the next instant to arm (``None`` once past the policy's end)."""

    fire: tuple[datetime, ...]
    caught_up: datetime | None
    skipped: int
    next_at: datetime | None


def plan_due(
    series: Series,
    due_at: datetime,
    now: datetime,
    catch_up: CatchUp,
    end_at: datetime | None = None,
    grace: timedelta = MISFIRE_GRACE,
) -> Plan:
    """Decide what the due instant ``due_at`` (and any instant since) fires at ``now``.

    Instants at most ``grace`` old fire (a short outage loses nothing); older ones were missed:
    ``catch_up="once"`` fires the latest missed instant once, ``"skip"`` drops them. The plan
    depends on ``now``, so the caller must apply it once per due message (the stored next
    instant guards that); the firing keys still make a repeated instant harmless.
    """
    now = max(now, due_at)
    horizon = now if end_at is None else min(now, end_at)
    cutoff = now - grace
    missed_latest = series.before(min(cutoff, horizon)) if due_at < cutoff else None
    on_time: list[datetime] = []
    instant = due_at if due_at >= cutoff else series.after(cutoff)
    while instant <= horizon and len(on_time) < MAX_FIRED_PER_DUE:
        on_time.append(instant)
        instant = series.after(instant)
    caught_up = None
    if missed_latest is not None and missed_latest >= due_at and catch_up == "once":
        caught_up = missed_latest
    skipped = _count_missed(series, due_at, missed_latest) - (1 if caught_up else 0)
    # The first instant not fired: after ``now``, unless the cap stopped the loop early (then
    # it is armed in the past and falls due at once, continuing the catch-up).
    next_at: datetime | None = instant
    if end_at is not None and instant > end_at:
        next_at = None
    fire = ((caught_up,) if caught_up else ()) + tuple(on_time)
    return Plan(fire=fire, caught_up=caught_up, skipped=max(skipped, 0), next_at=next_at)


def _count_missed(
    series: Series, due_at: datetime, latest: datetime | None, cap: int = 1000
) -> int:
    """How many instants from ``due_at`` to ``latest`` were missed (counted up to ``cap``)."""
    if latest is None or latest < due_at:
        return 0
    count, instant = 1, due_at
    while instant < latest and count < cap:
        instant = series.after(instant)
        count += 1
    return count


@dataclass(frozen=True)
class ClockState:
    """The stored state of a timer or cron policy's clock: its series anchor and the one
    instant currently armed. A due message for any other instant is stale."""

    policy_id: str
    anchor_at: datetime
    next_at: datetime


@dataclass(frozen=True)
class Burst:
    """A debounce window of one (policy, room): matching messages coalesced so far."""

    policy_id: str
    room_id: str
    started_at: datetime
    due_at: datetime
    count: int
    last_event_id: str
    last_seq: int
    payload: dict[str, Any]


def debounce_due(
    started_at: datetime, now: datetime, period_s: float, max_wait_s: float
) -> datetime:
    """A quiet ``period_s`` after the latest match, but never later than ``max_wait_s`` after
    the first one (a burst that never ends still fires)."""
    return min(now + timedelta(seconds=period_s), started_at + timedelta(seconds=max_wait_s))


def first_instant(series: Series, now: datetime, end_at: datetime | None) -> datetime | None:
    """The first instant after ``now`` to arm for a new or resumed policy (none past its end)."""
    instant = series.after(now)
    return None if end_at is not None and instant > end_at else instant
