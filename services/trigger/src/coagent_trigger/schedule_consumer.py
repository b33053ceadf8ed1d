"""The broker side of time triggers: consuming due schedules and cancelling a policy's ones.

Due messages are the bodies of this service's own schedules, delivered back into the TRIGGER
stream by the server (``trigger.policy.<id>.due.v1``); they are not fleet events, so they get
a small consumer of their own with the same acknowledgement rules as event consumers: ack after
the transaction commits, retry with backoff on failure, terminate what can never parse.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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

#: Due messages handled at once, fetched continuously: many timers fall due together (every
#: policy on the same cron minute, rooms going silent after a shared burst), and one slow
#: transaction must not hold up the messages behind it, as waiting for a whole fetched batch
#: would. Each holds a database connection (the pool has 15).
DUE_WORKERS = 8
#: A due message is one short transaction; one left unacknowledged by a killed process is
#: redelivered after this long, well inside the misfire grace, so its instant still fires.
DUE_ACK_WAIT_S = 10.0


class SlotGate:
    """Lets the due messages of one timer slot through one at a time (first come, first
    served at the gate; concurrent handlers may reach it in any order).

    Handled concurrently, two messages of the same slot (a redelivery next to the re-armed
    schedule) would only queue on the same row lock in the database while holding two
    connections; in order, the second sees what the first committed. Different slots run in
    parallel; the stored state under row locks keeps every decision exactly-once either way.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, slot: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(slot, asyncio.Lock())
        self._waiting[slot] = self._waiting.get(slot, 0) + 1
        try:
            async with lock:  # asyncio.Lock wakes its waiters first come, first served
                yield
        finally:
            self._waiting[slot] -= 1
            if not self._waiting[slot]:  # nobody else wants the slot: forget it
                del self._waiting[slot], self._locks[slot]

    def __len__(self) -> int:
        return len(self._locks)


def slot_of(message: DueMessage) -> str:
    """The timer slot a due message belongs to: a policy's clock, or one of its rooms."""
    if message.kind in ("timer", "cron"):
        return f"{message.policy_id}:clock"
    return f"{message.policy_id}:{message.kind}:{message.room_id}"


def register_schedule_consumer(
    broker: NatsBroker,
    due: DueService,
    retry: Retry | None = None,
    *,
    workers: int = DUE_WORKERS,
    durable: str = SCHEDULES_CONSUMER,
) -> None:
    """Consume every due schedule of every policy (one durable consumer per service), up to
    ``workers`` at once, one at a time per timer slot."""
    policy = retry or Retry()
    gate = SlotGate()

    @broker.subscriber(
        DUE_FILTER,
        stream=JStream(name=TRIGGER.name, declare=False),
        durable=durable,
        config=consumer_config(durable, ack_wait_s=DUE_ACK_WAIT_S, max_deliver=policy.max_deliver),
        pull_sub=PullSub(batch_size=16, timeout=1.0),
        max_workers=workers,
        ack_policy=AckPolicy.MANUAL,
        title=f"{durable}:due",
    )
    async def on_due(body: Any, msg: NatsMessage) -> None:
        try:
            message = DueMessage.model_validate_json(msg.body)
        except ValidationError as exc:
            log.error("due_message_invalid", subject=msg.raw_message.subject, error=str(exc))
            await msg.reject()
            return
        try:
            async with gate.hold(slot_of(message)):
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
