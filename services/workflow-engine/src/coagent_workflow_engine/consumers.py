"""JetStream subscribers of the workflow engine."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_contracts.trigger import TriggerFiredV1
from coagent_kit.broker import subscribe_event
from coagent_workflow_engine.service import FIRINGS_CONSUMER, WorkflowEngineService


def register_consumers(broker: NatsBroker, engine: WorkflowEngineService) -> None:
    """Every trigger firing becomes exactly one queued run."""

    async def on_trigger_fired(event: TriggerFiredV1) -> None:
        await engine.queue_run_for_firing(event)

    subscribe_event(broker, TriggerFiredV1, FIRINGS_CONSUMER, on_trigger_fired)
