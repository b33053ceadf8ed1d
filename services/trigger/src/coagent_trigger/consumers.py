"""JetStream subscribers of the trigger service."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_contracts.chat import MessagePostedV1
from coagent_kit.broker import subscribe_event
from coagent_trigger.policy_service import MESSAGE_POLICIES_CONSUMER, PolicyService
from coagent_trigger.service import ROOM_ACTIVITY_CONSUMER, TriggerService


def register_consumers(
    broker: NatsBroker, trigger: TriggerService, policies: PolicyService
) -> None:
    """Every posted message updates its room's activity (what silence triggers measure) and,
    through a consumer of its own, is matched against the ``user_message`` policies.

    Two durable consumers rather than one handler doing both: each keeps its own inbox claim and
    retry, so a failing policy evaluation cannot hold back (or double-count) the projection.
    """

    async def on_message_posted(event: MessagePostedV1) -> None:
        await trigger.record_message(event)

    subscribe_event(broker, MessagePostedV1, ROOM_ACTIVITY_CONSUMER, on_message_posted)

    async def on_message_for_policies(event: MessagePostedV1) -> None:
        await policies.on_message(event)

    # New messages only: deploying this consumer must not fire policies on the stream's history.
    subscribe_event(
        broker,
        MessagePostedV1,
        MESSAGE_POLICIES_CONSUMER,
        on_message_for_policies,
        new_only=True,
    )
