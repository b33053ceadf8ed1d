"""JetStream subscribers of the trigger service."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_contracts.chat import MessagePostedV1
from coagent_kit.broker import subscribe_event
from coagent_trigger.service import ROOM_ACTIVITY_CONSUMER, TriggerService


def register_consumers(broker: NatsBroker, trigger: TriggerService) -> None:
    """Every posted message updates its room's activity (what silence triggers measure)."""

    async def on_message_posted(event: MessagePostedV1) -> None:
        await trigger.record_message(event)

    subscribe_event(broker, MessagePostedV1, ROOM_ACTIVITY_CONSUMER, on_message_posted)
