"""Forgetting a user: every message they wrote, in every room, is erased with its tombstones.

The gateway announces ``UserForgottenV1``; this erases the user's human messages in batches,
each batch one transaction that deletes the rows and queues one ``MessagesErasedV1`` per room
it touched, exactly like forgetting a single message. So the rooms' sockets drop the messages
and every other copy (the knowledge graph, projections) follows the tombstones.

No inbox claim is needed: the work is its own idempotency key. A redelivery after a crash
finds what is left and finishes it; a redelivery after success finds nothing. A deleted row is
only returned by the transaction that deleted it, so two concurrent runs (or the retention
pruner) never announce the same message twice.

Artifacts the user created are kept: they are the room's shared documents, edited by others.
"""

from __future__ import annotations

from itertools import groupby

from coagent_chat.domain import Message
from coagent_chat.events import messages_erased
from coagent_chat.ports import UnitOfWork, UnitOfWorkFactory
from coagent_contracts.gateway import UserForgottenV1
from coagent_kit.logging import get_logger

log = get_logger(__name__)

USER_FORGOTTEN_CONSUMER = "chat-user-forgotten"
DEFAULT_BATCH = 200


class UserEraser:
    """Erases a forgotten user's messages from every room."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, batch_size: int = DEFAULT_BATCH) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._uow = unit_of_work
        self._batch_size = batch_size

    async def erase(self, event: UserForgottenV1) -> int:
        """Erase everything the user wrote; returns how many messages this call erased."""
        total = 0
        while True:
            erased, more = await self._batch(event)
            total += erased
            if not more:
                break
        log.info("user_messages_erased", user_id=event.data.user_id, messages=total)
        return total

    async def _batch(self, event: UserForgottenV1) -> tuple[int, bool]:
        """One transaction: up to a batch of the user's messages, one tombstone per room.

        Returns how many were erased and whether a full batch was found (there may be more).
        """
        async with self._uow() as uow:
            found = await uow.messages.authored_by(event.data.user_id, self._batch_size)
            if not found:
                return 0, False
            erased = 0
            for room_id, room_messages in groupby(found, key=lambda m: m.body.room_id):
                erased += await _erase_in_room(uow, event, room_id, list(room_messages))
            await uow.commit()
        return erased, len(found) == self._batch_size


async def _erase_in_room(
    uow: UnitOfWork, event: UserForgottenV1, room_id: str, found: list[Message]
) -> int:
    erased = await uow.messages.delete(room_id, [m.id for m in found])
    if erased:  # empty when a concurrent run or the pruner got there first
        tombstone = messages_erased(
            room_id,
            erased,
            "forgotten",
            event.data.forgotten_by,
            causation_id=event.event_id,
        )
        await uow.publish(tombstone)
    return len(erased)
