"""The running extraction side: debounced passes per room and prompt forgetting."""

from __future__ import annotations

from collections.abc import Sequence

from coagent_graphrag_ingest.pipeline import PassReport, RoomIngestor
from coagent_graphrag_ingest.ports import UnitOfWorkFactory
from coagent_graphrag_ingest.scheduler import RoomScheduler
from coagent_kit.logging import get_logger

log = get_logger(__name__)
#: Rooms resumed at start; more wait for their next event.
MAX_RESUMED_ROOMS = 10_000


class GraphIngest:
    """What the consumers call once an event is recorded: schedule a pass, or forget now."""

    def __init__(
        self,
        ingestor: RoomIngestor,
        unit_of_work: UnitOfWorkFactory,
        *,
        quiet: float,
        max_wait: float,
    ) -> None:
        self._ingestor = ingestor
        self._uow = unit_of_work
        self.scheduler = RoomScheduler(self._pass, quiet=quiet, max_wait=max_wait)
        #: The latest pass of each room in this process (diagnostics and tests).
        self.reports: dict[str, PassReport] = {}

    async def resume(self) -> None:
        """Schedule every room whose jobs a stopped process left pending (debounce is in memory)."""
        async with self._uow() as uow:
            rooms = await uow.jobs.pending_rooms(MAX_RESUMED_ROOMS)
        for room_id in rooms:
            self.scheduler.poke(room_id)
        if rooms:
            log.info("ingest_resumed", rooms=len(rooms))

    def changed(self, room_id: str) -> None:
        """A source of the room was recorded: a debounced pass will pick it up."""
        self.scheduler.poke(room_id)

    async def forget(self, room_id: str, source_ids: Sequence[str]) -> None:
        """Tombstones are applied at once (not debounced), between passes of the room."""
        async with self.scheduler.exclusive(room_id):
            report = await self._ingestor.forget(room_id, source_ids)
        log.info(
            "graph_sources_forgotten",
            room_id=room_id,
            sources=len(source_ids),
            removed_entities=len(report.removed_entities),
            removed_chunks=report.removed_chunks,
        )
        # Surviving messages that shared a chunk with the forgotten ones need a chunk again.
        self.scheduler.poke(room_id)

    async def close(self) -> None:
        await self.scheduler.close()

    async def _pass(self, room_id: str) -> None:
        report = await self._ingestor.ingest(room_id)
        self.reports[room_id] = report
        log.info(
            "ingest_pass_done",
            room_id=room_id,
            chunks=report.chunks,
            extracted=report.extracted,
            entities=report.entities,
            merges=report.merges,
            errors=len(report.errors),
        )
