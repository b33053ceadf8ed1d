"""JetStream subscribers of the overlap projection (run lifecycle events of the engine)."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_kit.broker import subscribe_event
from coagent_trigger.overlap_service import RUN_EVENT_CONSUMERS, OverlapService, RunEvent


def register_overlap_consumers(broker: NatsBroker, overlap: OverlapService) -> None:
    """One durable consumer per lifecycle event class.

    New events only: a first deployment must not walk the whole run history; runs that were
    going before it are unknown to the overlap rule, which then errs on the side of firing.
    """

    async def on_run_event(event: RunEvent) -> None:
        await overlap.on_run_event(event)

    for event_type, durable in RUN_EVENT_CONSUMERS.items():
        subscribe_event(broker, event_type, durable, on_run_event, new_only=True)
