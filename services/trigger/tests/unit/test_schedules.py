"""The pure time-trigger rules: instants of timers and cron, jitter, catch-up, debounce, arms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coagent_trigger.schedules import (
    MISFIRE_GRACE,
    Arm,
    CronSeries,
    DueMessage,
    IntervalSeries,
    debounce_due,
    first_instant,
    jitter_fraction,
    plan_due,
    silence_due,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def every(seconds: float, jitter_s: float = 0.0, policy_id: str = "p1") -> IntervalSeries:
    return IntervalSeries(policy_id, T0, seconds, jitter_s)


def test_interval_instants_count_from_the_anchor() -> None:
    series = every(60)
    assert series.after(T0) == T0 + timedelta(seconds=60)
    assert series.after(T0 + timedelta(seconds=60)) == T0 + timedelta(seconds=120)
    assert series.after(T0 + timedelta(seconds=61)) == T0 + timedelta(seconds=120)
    assert series.before(T0 + timedelta(seconds=179)) == T0 + timedelta(seconds=120)
    assert series.before(T0 + timedelta(seconds=120)) == T0 + timedelta(seconds=120)
    assert series.before(T0 + timedelta(seconds=59)) is None


def test_jitter_is_deterministic_bounded_and_keeps_instants_in_order() -> None:
    series = every(60, jitter_s=10)
    again = every(60, jitter_s=10)
    instants = [series.instant(k) for k in range(1, 200)]
    assert instants == [again.instant(k) for k in range(1, 200)]
    offsets = [
        (t - (T0 + timedelta(seconds=60 * k))).total_seconds() for k, t in enumerate(instants, 1)
    ]
    assert all(0 <= o < 10 for o in offsets)
    assert len({round(o, 3) for o in offsets}) > 150, "jitter should actually vary"
    assert instants == sorted(instants)
    # Another policy gets other offsets: timers created together do not fire together.
    assert [every(60, 10, "p2").instant(k) for k in range(1, 20)] != instants[:19]


def test_jitter_larger_than_the_interval_is_capped_at_half_of_it() -> None:
    series = every(10, jitter_s=1000)
    instants = [series.instant(k) for k in range(1, 100)]
    gaps = [(b - a).total_seconds() for a, b in zip(instants, instants[1:], strict=False)]
    assert min(gaps) >= 5
    for k, instant in enumerate(instants, 1):
        assert series.after(instant - timedelta(microseconds=1)) == instant
        assert series.before(instant) == instant
        assert k >= 1


def test_jitter_fraction_stays_in_the_unit_interval() -> None:
    values = [jitter_fraction("p", k) for k in range(1000)]
    assert all(0 <= v < 1 for v in values)


def test_cron_reads_its_expression_in_the_policy_time_zone() -> None:
    series = CronSeries("30 9 * * *", "Asia/Kolkata")  # 09:30 IST = 04:00 UTC
    assert series.after(T0) == datetime(2026, 1, 6, 4, 0, tzinfo=UTC)
    assert series.before(T0) == datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


def test_cron_follows_daylight_saving_time() -> None:
    series = CronSeries("0 9 * * *", "Europe/Paris")
    winter = series.after(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))  # 28 Mar, CET
    summer = series.after(datetime(2026, 3, 29, 12, 0, tzinfo=UTC))  # 30 Mar, CEST
    assert winter == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert summer == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert summer.astimezone(ZoneInfo("Europe/Paris")).hour == 9


def test_six_fields_put_the_seconds_first() -> None:
    series = CronSeries("*/20 * * * * *", "UTC")
    assert series.after(T0) == T0 + timedelta(seconds=20)
    assert series.before(T0 + timedelta(seconds=59)) == T0 + timedelta(seconds=40)
    assert series.before(T0 + timedelta(seconds=40)) == T0 + timedelta(seconds=40)
    assert series.after(T0 + timedelta(seconds=40)) == T0 + timedelta(seconds=60)


def test_an_on_time_due_fires_its_instant_and_arms_the_next() -> None:
    series = every(60)
    due = T0 + timedelta(seconds=60)
    plan = plan_due(series, due, due + timedelta(milliseconds=3), "skip")
    assert plan.fire == (due,)
    assert plan.next_at == T0 + timedelta(seconds=120)
    assert plan.skipped == 0


def test_an_early_due_still_fires_its_own_instant() -> None:
    due = T0 + timedelta(seconds=60)
    plan = plan_due(every(60), due, due - timedelta(milliseconds=1), "skip")
    assert plan.fire == (due,)


def test_instants_missed_within_the_grace_all_fire() -> None:
    series = every(5)
    due = T0 + timedelta(seconds=5)
    now = due + timedelta(seconds=12)  # a short outage: 5, 10, 15 are due
    plan = plan_due(series, due, now, "skip")
    assert plan.fire == tuple(T0 + timedelta(seconds=s) for s in (5, 10, 15))
    assert plan.next_at == T0 + timedelta(seconds=20)


@pytest.mark.parametrize("catch_up", ["skip", "once"])
def test_instants_older_than_the_grace_are_skipped_or_fired_once(catch_up: str) -> None:
    series = every(60)
    due = T0 + timedelta(seconds=60)
    now = T0 + timedelta(hours=3, seconds=30)  # 3 h down: 180 instants due
    plan = plan_due(series, due, now, catch_up)  # type: ignore[arg-type]
    cutoff = now - MISFIRE_GRACE
    on_time = tuple(t for t in plan.fire if t >= cutoff)
    assert on_time == (T0 + timedelta(hours=3),)
    assert plan.next_at == T0 + timedelta(hours=3, seconds=60)
    if catch_up == "once":
        assert plan.caught_up == T0 + timedelta(hours=2, minutes=59)
        assert plan.fire == (plan.caught_up, *on_time)
        assert plan.skipped == 178
    else:
        assert plan.caught_up is None
        assert plan.fire == on_time
        assert plan.skipped == 179


def test_nothing_fires_or_arms_past_the_end() -> None:
    series = every(60)
    due = T0 + timedelta(seconds=60)
    end = T0 + timedelta(seconds=150)
    now = T0 + timedelta(seconds=300)
    plan = plan_due(series, due, now, "skip", end_at=end, grace=timedelta(minutes=10))
    assert plan.fire == (T0 + timedelta(seconds=60), T0 + timedelta(seconds=120))
    assert plan.next_at is None
    assert first_instant(series, T0 + timedelta(seconds=130), end) is None
    assert first_instant(series, T0 + timedelta(seconds=10), end) == due


def test_silence_falls_due_a_threshold_after_the_last_human_message() -> None:
    assert silence_due(T0, 0.05) == T0 + timedelta(seconds=3)


def test_debounce_waits_a_period_after_the_last_match_but_never_past_max_wait() -> None:
    start = T0
    assert debounce_due(start, start, 2, 10) == T0 + timedelta(seconds=2)
    assert debounce_due(start, T0 + timedelta(seconds=5), 2, 10) == T0 + timedelta(seconds=7)
    assert debounce_due(start, T0 + timedelta(seconds=9), 2, 10) == T0 + timedelta(seconds=10)
    assert debounce_due(start, T0 + timedelta(seconds=60), 2, 10) == T0 + timedelta(seconds=10)


def test_an_arm_rounds_its_header_up_to_the_millisecond() -> None:
    at = T0 + timedelta(microseconds=1_000_001)
    arm = Arm("clock", DueMessage(kind="timer", policy_id="p1", at=at))
    assert arm.header() == "@at 2026-01-05T09:00:01.001Z"
    assert arm.subject == "trigger.schedule.p1.clock"
    assert arm.target == "trigger.policy.p1.due.v1"
    exact = Arm("clock", DueMessage(kind="timer", policy_id="p1", at=T0))
    assert exact.header() == "@at 2026-01-05T09:00:00.000Z"
