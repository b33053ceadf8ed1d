"""Prometheus metrics of the trigger service: firings and how late scheduled ones fire.

Labels are the trigger kind (the policy's ``event_type``: user_message, silence, timer, cron,
webhook, manual) and the outcome, never a policy or room id, so their number stays small.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Histogram

from coagent_trigger.policies import Firing, Policy

FIRINGS = Counter(
    "coagent_trigger_firings_total",
    "Firings recorded, by trigger kind and outcome (duplicate: its key was already logged)",
    ["kind", "outcome"],
)
SCHEDULE_LAG = Histogram(
    "coagent_trigger_schedule_lag_seconds",
    "From a scheduled instant (silence threshold, timer or cron tick) to its firing",
    ["kind"],
    # Silences promise about a second; catch-up firings can be minutes or hours late.
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
)


def record_firing_outcome(
    policy: Policy, firing: Firing | None, scheduled_for: datetime | None, now: datetime
) -> None:
    """Count one decision of :func:`~coagent_trigger.firing.record_firing`; observe the lag of
    a scheduled firing once (a duplicate is the same instant recorded before)."""
    kind = policy.event_type
    FIRINGS.labels(kind, "duplicate" if firing is None else firing.outcome).inc()
    if firing is not None and scheduled_for is not None:
        # Clamped: a fake or skewed clock must not produce a negative observation.
        SCHEDULE_LAG.labels(kind).observe(max((now - scheduled_for).total_seconds(), 0.0))
