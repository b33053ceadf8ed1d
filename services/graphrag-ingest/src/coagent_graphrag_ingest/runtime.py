"""The running extraction side: debounced passes per room, prompt forgetting, community
refreshes (debounced on their own, longer window) and explicit builds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress

from coagent_graphrag_ingest.builds import BuildProgress
from coagent_graphrag_ingest.community_build import CommunityBuilder, RefreshReport
from coagent_graphrag_ingest.pipeline import PassReport, RoomIngestor
from coagent_graphrag_ingest.ports import UnitOfWorkFactory
from coagent_graphrag_ingest.scheduler import RoomScheduler
from coagent_kit.logging import get_logger

log = get_logger(__name__)
#: Rooms resumed at start; more wait for their next event.
MAX_RESUMED_ROOMS = 10_000
#: Build ids remembered per process, so a redelivered build command is not run twice.
MAX_REMEMBERED_BUILDS = 10_000


class GraphIngest:
    """What the consumers call once an event is recorded: schedule a pass, or forget now."""

    def __init__(
        self,
        ingestor: RoomIngestor,
        unit_of_work: UnitOfWorkFactory,
        *,
        quiet: float,
        max_wait: float,
        communities: CommunityBuilder | None = None,
        community_quiet: float = 10.0,
        community_max_wait: float = 120.0,
    ) -> None:
        self._ingestor = ingestor
        self._uow = unit_of_work
        self._communities = communities
        self.scheduler = RoomScheduler(self._pass, quiet=quiet, max_wait=max_wait)
        # Re-clustering and reports follow passes, but less often: a burst of passes (a busy
        # room) leads to one refresh, not one per pass.
        self.community_scheduler = RoomScheduler(
            self._refresh, quiet=community_quiet, max_wait=community_max_wait
        )
        #: The latest pass of each room in this process (diagnostics and tests).
        self.reports: dict[str, PassReport] = {}
        #: The latest community refresh of each room in this process.
        self.refreshes: dict[str, RefreshReport] = {}
        self._builds: dict[str, asyncio.Task[None]] = {}
        self._seen_builds: dict[str, None] = {}

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
        # Reports citing the sources were dropped: the next refresh writes them without them.
        self._communities_changed(room_id)

    def build(self, room_id: str, build_id: str) -> bool:
        """Start a build of the room unless this build id was already taken; False if it was.

        Builds of one room run one after the other (each holds the room while it runs).
        """
        if build_id in self._seen_builds:
            return False
        self._seen_builds[build_id] = None
        while len(self._seen_builds) > MAX_REMEMBERED_BUILDS:
            del self._seen_builds[next(iter(self._seen_builds))]
        task = asyncio.create_task(self._build(room_id, build_id), name=f"build:{build_id}")
        self._builds[build_id] = task
        task.add_done_callback(lambda _: self._builds.pop(build_id, None))
        return True

    async def builds_idle(self) -> None:
        """Wait for every running build (tests, shutdown)."""
        while self._builds:
            await asyncio.gather(*self._builds.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._builds.values()):
            task.cancel()
        for task in list(self._builds.values()):
            with suppress(asyncio.CancelledError):
                await task
        await self.community_scheduler.close()
        await self.scheduler.close()

    async def _build(self, room_id: str, build_id: str) -> None:
        progress = BuildProgress(self._uow, room_id, build_id)
        try:
            await progress.emit("queued")
            async with self.scheduler.exclusive(room_id):
                await progress.emit("ingest")
                report = await self._ingestor.ingest(room_id)
                self.reports[room_id] = report
                errors = list(report.errors)
                if self._communities is not None:
                    refresh = await self._communities.refresh(room_id, progress.stage)
                    self.refreshes[room_id] = refresh
                    progress.communities = refresh.communities
                    progress.reports_written = refresh.reports_written
                    errors += refresh.failed
            error = "; ".join(errors) or None
            await progress.emit("done", "failed" if error else "succeeded", error=error)
            log.info("graph_build_done", room_id=room_id, build_id=build_id, errors=len(errors))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("graph_build_failed", room_id=room_id, build_id=build_id)
            with suppress(Exception):  # the outbox itself may be what failed
                await progress.emit("done", "failed", error=f"{type(exc).__name__}: {exc}")

    def _communities_changed(self, room_id: str) -> None:
        if self._communities is not None:
            self.community_scheduler.poke(room_id)

    async def _refresh(self, room_id: str) -> None:
        if self._communities is None:
            return
        async with self.scheduler.exclusive(room_id):
            refresh = await self._communities.refresh(room_id)
        self.refreshes[room_id] = refresh
        log.info(
            "communities_refreshed",
            room_id=room_id,
            communities=refresh.communities,
            levels=refresh.levels,
            reports_written=refresh.reports_written,
            reports_kept=refresh.reports_kept,
            failed=len(refresh.failed),
        )

    async def _pass(self, room_id: str) -> None:
        report = await self._ingestor.ingest(room_id)
        self.reports[room_id] = report
        if report.extracted or report.merges:
            self._communities_changed(room_id)
        log.info(
            "ingest_pass_done",
            room_id=room_id,
            chunks=report.chunks,
            extracted=report.extracted,
            entities=report.entities,
            merges=report.merges,
            errors=len(report.errors),
        )
