"""A JetStream message whose handler acknowledges it itself, possibly long after it returned.

Work that outlasts a handler call (a graph build of many minutes) keeps its message in flight
with ``in_progress`` heartbeats well inside the consumer's ack wait and acks it when the work
ends. If the process dies meanwhile, the heartbeats stop and the server redelivers the message
once the ack wait expires, to this or another replica.
"""

from __future__ import annotations

from typing import Any

import nats
from faststream.nats import NatsMessage


class Delivery:
    """One delivery of a message; ``None`` stands for a detached one (a replayed dead letter),
    which has nothing to heartbeat or acknowledge."""

    def __init__(self, msg: NatsMessage | None = None) -> None:
        self._msg = msg

    @property
    def attempt(self) -> int:
        """Which delivery this is (1 for the first; a redelivery after a crash counts up)."""
        if self._msg is None:
            return 1
        try:
            metadata: Any = self._msg.raw_message.metadata
        except nats.errors.NotJSMessageError:
            return 1
        return int(metadata.num_delivered or 1)

    async def in_progress(self) -> None:
        """Restart the ack wait: the work is still going."""
        if self._msg is not None:
            await self._msg.in_progress()

    async def ack(self) -> None:
        if self._msg is not None:
            await self._msg.ack()

    async def nack(self, delay: float | None = None) -> None:
        """Hand the message back for redelivery after ``delay`` seconds (at once without)."""
        if self._msg is not None:
            await self._msg.nack(delay=delay)
