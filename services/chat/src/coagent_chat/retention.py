"""Room retention: who may set it, what applies, and the background pruner that enforces it.

Pruning runs in every replica; a per-room advisory lock (held for one batch's transaction) keeps
two replicas from working on the same room, and a deleted row is only reported by the one
transaction that deleted it, so each erased message gets exactly one tombstone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from coagent_chat.domain import (
    Actor,
    RetentionPolicy,
    RoomRetention,
    ensure_may_set_retention,
)
from coagent_chat.events import messages_erased
from coagent_chat.ports import UnitOfWorkFactory
from coagent_kit.logging import get_logger

log = get_logger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetentionView:
    """A room's own setting next to what is enforced (the room's, else the fleet default)."""

    room_id: str
    own: RetentionPolicy
    effective: RetentionPolicy


class RetentionService:
    """Reads and changes room retention, and prunes history that falls outside it."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        default: RetentionPolicy | None = None,
        *,
        interval_s: float = 60.0,
        batch_size: int = 500,
        clock: Clock = _utc_now,
    ) -> None:
        self._uow = unit_of_work
        self._default = default or RetentionPolicy()
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def get(self, room_id: str) -> RetentionView:
        """The room's setting and the effective one."""
        async with self._uow() as uow:
            found = await uow.retention.get(room_id)
        own = found.policy if found is not None else RetentionPolicy()
        return RetentionView(room_id, own, own.over(self._default))

    async def set(self, room_id: str, policy: RetentionPolicy, actor: Actor) -> RetentionView:
        """Replace the room's setting (a limit left empty falls back to the fleet default)."""
        ensure_may_set_retention(actor)
        async with self._uow() as uow:
            await uow.retention.save(RoomRetention(room_id, policy, self._clock(), actor.user_id))
            await uow.commit()
        return RetentionView(room_id, policy, policy.over(self._default))

    async def prune_once(self) -> dict[str, int]:
        """One pass over every room that may need pruning; returns messages erased per room."""
        now = self._clock()
        async with self._uow() as uow:
            rooms = await uow.retention.rooms(with_default=self._default.prunes)
        erased: dict[str, int] = {}
        for room_id in rooms:
            count = await self._prune_room(room_id, now)
            if count:
                erased[room_id] = count
        return erased

    async def _prune_room(self, room_id: str, now: datetime) -> int:
        total = 0
        while True:
            erased, more = await self._prune_batch(room_id, now)
            total += erased
            if not more:
                return total

    async def _prune_batch(self, room_id: str, now: datetime) -> tuple[int, bool]:
        """Erase up to one batch of the room in one transaction with one tombstone.

        Returns how many were erased and whether a full batch was found (there may be more).
        """
        async with self._uow() as uow:
            if not await uow.retention.try_lock(room_id):
                return 0, False  # another replica is pruning this room right now
            own = await uow.retention.get(room_id)
            policy = (own.policy if own is not None else RetentionPolicy()).over(self._default)
            if not policy.prunes:
                return 0, False
            victims = await uow.messages.expired(room_id, policy, now, self._batch_size)
            if not victims:
                return 0, False
            erased = await uow.messages.delete(room_id, [m.id for m in victims])
            if erased:
                await uow.publish(messages_erased(room_id, erased, "retention"))
            await uow.commit()
        return len(erased), len(victims) == self._batch_size

    async def start(self) -> None:
        """Run :meth:`prune_once` every ``interval_s`` in the background."""
        self._task = asyncio.create_task(self._loop(), name="chat-retention")

    async def stop(self) -> None:
        """Stop the background loop (a batch in flight is rolled back)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                erased = await self.prune_once()
                if erased:
                    log.info("retention_pruned", rooms=len(erased), messages=sum(erased.values()))
            except Exception:
                log.exception("retention_prune_failed")
            await asyncio.sleep(self._interval_s)
