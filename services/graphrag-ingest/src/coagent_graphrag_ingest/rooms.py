"""The room projection: which course each room belongs to, and which rooms are gone.

The gateway owns rooms; ingest folds its ``RoomChangedV1`` events into one row per room. A room
deleted there is forgotten here in full: its jobs, source text and extraction ledger (one
transaction with the projection row, so no message of the room can be recorded afterwards),
then its whole graph and vector partition. Later events of a deleted room change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext

from coagent_contracts.gateway import RoomChangedV1
from coagent_graphrag_ingest.domain import RoomForgotten, RoomView
from coagent_graphrag_ingest.ports import UnitOfWorkFactory
from coagent_graphstore.models import Scope
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_kit.logging import get_logger

log = get_logger(__name__)

ROOMS_CONSUMER = "graphrag-ingest-rooms"

#: Holds a room while its partition is dropped, so no pass of the room writes at the same time.
RoomLock = Callable[[str], AbstractAsyncContextManager[None]]


def view_of(event: RoomChangedV1) -> RoomView:
    """The projection row an event describes."""
    data = event.data
    return RoomView(data.room_id, data.course_id, data.deleted, event.occurred_at)


def _no_lock(room_id: str) -> AbstractAsyncContextManager[None]:
    return nullcontext()


class RoomProjection:
    """Applies room events; a deleted room's whole partition is dropped."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        graph: GraphStore,
        vectors: VectorIndex,
        lock: RoomLock = _no_lock,
    ) -> None:
        self._uow = unit_of_work
        self._graph, self._vectors = graph, vectors
        self._lock = lock

    async def on_room_changed(self, event: RoomChangedV1) -> RoomView:
        """Fold the event in (newest wins, deletion is final); the room as it now stands.

        Idempotent: a redelivered deletion finds nothing left to remove and drops the (empty)
        partition again, which also finishes a deletion a crash interrupted halfway.
        """
        if not event.data.deleted:
            return (await self._apply(event))[0]
        # The room is held from before its rows go until its partition is gone: a pass running
        # now finishes first (and whatever it wrote goes too), none starts in between.
        async with self._lock(event.data.room_id):
            current, forgotten = await self._apply(event)
            scope = Scope(current.room_id)
            await self._graph.purge(scope)
            await self._vectors.purge(scope)
        log.info(
            "room_partition_dropped",
            room_id=current.room_id,
            course_id=current.course_id,
            jobs=forgotten.jobs,
            sources=forgotten.sources,
            extractions=forgotten.extractions,
        )
        return current

    async def _apply(self, event: RoomChangedV1) -> tuple[RoomView, RoomForgotten]:
        async with self._uow() as uow:
            current = await uow.rooms.apply(view_of(event))
            forgotten = RoomForgotten()
            if current.deleted:
                forgotten = await uow.rooms.forget_state(current.room_id)
            await uow.commit()
        return current, forgotten

    async def get(self, room_id: str) -> RoomView | None:
        """The room as last seen; None before any event about it arrived."""
        async with self._uow() as uow:
            return await uow.rooms.get(room_id)
