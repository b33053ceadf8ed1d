"""The broker side of time triggers: consuming due schedules and cancelling a policy's ones.

Due messages are the bodies of this service's own schedules, delivered back into the TRIGGER
stream by the server (``trigger.policy.<id>.due.v1``); they are not fleet events, so they get
a small consumer of their own with the same acknowledgement rules as event consumers: ack after
the transaction commits, retry with backoff on failure, terminate what can never parse.
"""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from pydantic import ValidationError

from coagent_contracts.streams import TRIGGER
from coagent_contracts.trigger import DUE_FILTER, SCHEDULE_FILTER
from coagent_kit.broker import Retry, consumer_config
from coagent_kit.logging import get_logger
from coagent_trigger.due_service import SCHEDULES_CONSUMER, DueService
from coagent_trigger.schedules import DueMessage

log = get_logger(__name__)


def register_schedule_consumer(
    broker: NatsBroker, due: DueService, retry: Retry | None = None
) -> None:
    """Consume every due schedule of every policy (one durable consumer per service)."""
    policy = retry or Retry()

    @broker.subscriber(
        DUE_FILTER,
        stream=JStream(name=TRIGGER.name, declare=False),
        durable=SCHEDULES_CONSUMER,
        config=consumer_config(SCHEDULES_CONSUMER, max_deliver=policy.max_deliver),
        pull_sub=PullSub(batch_size=16, timeout=1.0),
        ack_policy=AckPolicy.MANUAL,
        title=f"{SCHEDULES_CONSUMER}:due",
    )
    async def on_due(body: Any, msg: NatsMessage) -> None:
        try:
            message = DueMessage.model_validate_json(msg.body)
        except ValidationError as exc:
            log.error("due_message_invalid", subject=msg.raw_message.subject, error=str(exc))
            await msg.reject()
            return
        try:
            await due.on_due(message)
        except Exception:
            attempt = int(msg.raw_message.metadata.num_delivered or 1)
            log.exception("due_message_failed", policy_id=message.policy_id, attempt=attempt)
            await msg.nack(delay=policy.delay_s(attempt))
            return
        await msg.ack()

    _ = on_due


class NatsScheduleCanceller:
    """Purges a policy's pending schedules from the TRIGGER stream."""

    def __init__(self, broker: NatsBroker) -> None:
        self._broker = broker

    async def cancel(self, policy_id: str) -> None:
        subject = SCHEDULE_FILTER.removesuffix(">") + f"{policy_id}.>"
        try:
            await self._broker.connection.jetstream().purge_stream(TRIGGER.name, subject=subject)
        except Exception:
            # Harmless if it fails: a schedule left behind finds the policy paused or gone.
            log.warning("schedule_cancel_failed", policy_id=policy_id, exc_info=True)
