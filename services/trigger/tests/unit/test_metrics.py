"""Firing metrics: counted by kind and outcome, schedule lag observed for scheduled firings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.adapters.memory_schedules import MemoryCanceller
from coagent_trigger.due_service import DueService
from coagent_trigger.metrics import record_firing_outcome
from coagent_trigger.policies import Caller, Firing
from coagent_trigger.policy_service import PolicyDraft, PolicyService
from coagent_trigger.secrets_box import SecretBox

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OWNER = Caller(user_id="u1", platform_role="teacher")


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_late_timer_firing_is_counted_and_its_lag_observed(store: MemoryStore) -> None:
    now = [T0]
    policies = PolicyService(
        lambda: MemoryUnitOfWork(store),
        SecretBox("k"),
        clock=lambda: now[0],
        canceller=MemoryCanceller(store.timers),
    )
    due = DueService(lambda: MemoryUnitOfWork(store), clock=lambda: now[0])
    draft = PolicyDraft("p", "timer", {"interval_mins": 1, "overlap": "allow"}, "wf", "r1", True)
    policy_id = (await policies.create(OWNER, draft)).policy.id
    [arm] = [a for a in store.timers.pending().values() if a.due.policy_id == policy_id]
    fired_before = _sample("coagent_trigger_firings_total", kind="timer", outcome="fired")
    lag_count = _sample("coagent_trigger_schedule_lag_seconds_count", kind="timer")
    lag_sum = _sample("coagent_trigger_schedule_lag_seconds_sum", kind="timer")

    now[0] = arm.due.at + timedelta(seconds=2.5)
    assert len(await due.on_due(arm.due)) == 1

    assert _sample("coagent_trigger_firings_total", kind="timer", outcome="fired") == (
        fired_before + 1
    )
    assert _sample("coagent_trigger_schedule_lag_seconds_count", kind="timer") == lag_count + 1
    assert _sample("coagent_trigger_schedule_lag_seconds_sum", kind="timer") == lag_sum + 2.5
    # Within the 5 s bucket, not the 2 s one.
    assert _sample("coagent_trigger_schedule_lag_seconds_bucket", kind="timer", le="2.0") < (
        _sample("coagent_trigger_schedule_lag_seconds_bucket", kind="timer", le="5.0")
    )


async def test_a_duplicate_is_counted_without_a_lag_and_an_early_clock_never_goes_negative(
    store: MemoryStore,
) -> None:
    policies = PolicyService(
        lambda: MemoryUnitOfWork(store),
        SecretBox("k"),
        clock=lambda: T0,
        canceller=MemoryCanceller(store.timers),
    )
    draft = PolicyDraft("p", "cron", {"cron": "* * * * *"}, "wf", None, True)
    policy = (await policies.create(OWNER, draft)).policy
    duplicates = _sample("coagent_trigger_firings_total", kind="cron", outcome="duplicate")
    lag_count = _sample("coagent_trigger_schedule_lag_seconds_count", kind="cron")
    lag_sum = _sample("coagent_trigger_schedule_lag_seconds_sum", kind="cron")

    record_firing_outcome(policy, None, T0, T0 + timedelta(seconds=9))
    assert _sample("coagent_trigger_firings_total", kind="cron", outcome="duplicate") == (
        duplicates + 1
    )
    assert _sample("coagent_trigger_schedule_lag_seconds_count", kind="cron") == lag_count

    firing = Firing(
        id="f1",
        firing_key="k1",
        policy_id=policy.id,
        event_type="cron",
        outcome="fired",
        room_id=None,
        source_event_id=None,
        fired_by=None,
        created_at=T0,
    )
    record_firing_outcome(policy, firing, T0 + timedelta(seconds=3), T0)
    assert _sample("coagent_trigger_schedule_lag_seconds_count", kind="cron") == lag_count + 1
    assert _sample("coagent_trigger_schedule_lag_seconds_sum", kind="cron") == lag_sum
