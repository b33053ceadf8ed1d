"""The running extraction side: debounced passes per room, prompt forgetting, community
refreshes (debounced on their own, longer window) and explicit builds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress

from coagent_graphrag_ingest import builds
from coagent_graphrag_ingest.builds import BuildProgress, HeldCommand
from coagent_graphrag_ingest.community_build import CommunityBuilder, RefreshReport
from coagent_graphrag_ingest.pipeline import PassReport, RoomIngestor
from coagent_graphrag_ingest.ports import UnitOfWorkFactory
from coagent_graphrag_ingest.scheduler import RoomScheduler
from coagent_kit.delivery import Delivery
from coagent_kit.logging import get_logger

log = get_logger(__name__)
#: Rooms resumed at start; more wait for their next event.
MAX_RESUMED_ROOMS = 10_000
#: Ended build ids remembered per process, so a redelivered build command is not run twice.
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
        build_ack_wait_s: float = builds.BUILD_ACK_WAIT_S,
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
        #: The builds consumer's ack wait; the held commands heartbeat well inside it.
        self.build_ack_wait_s = build_ack_wait_s
        self._builds: dict[str, tuple[asyncio.Task[None], HeldCommand]] = {}
        self._ended_builds: dict[str, None] = {}
        self._stopping = False

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

    async def build(self, room_id: str, build_id: str, delivery: Delivery | None = None) -> bool:
        """Start a build of the room for this delivery of its command; False if not a new one.

        The build keeps ``delivery`` in flight and acks it when its end is announced. A
        redelivery of a build running here is adopted by it; one of a build that ended here is
        acked at once. Builds of one room run one after the other (each holds the room).
        """
        held = HeldCommand(delivery or Delivery(), self.build_ack_wait_s)
        if self._stopping:  # this process is going: leave the build to one that stays
            await held.release()
            return False
        if build_id in self._builds:
            self._builds[build_id][1].adopt(held.delivery)
            return False
        if build_id in self._ended_builds:
            await held.settle(ended=True)
            return False
        task = asyncio.create_task(self._build(room_id, build_id, held), name=f"build:{build_id}")
        self._builds[build_id] = (task, held)
        task.add_done_callback(lambda _: self._builds.pop(build_id, None))
        return True

    async def builds_idle(self) -> None:
        """Wait for every running build (tests, shutdown)."""
        while self._builds:
            tasks = [task for task, _ in self._builds.values()]
            await asyncio.gather(*tasks, return_exceptions=True)

    async def stop_builds(self) -> None:
        """Cancel the running builds, each handing its command back, and take no more.

        Run while the broker is still connected (before it stops), so that the hand-backs
        reach JetStream and another process takes the builds over within seconds instead of
        after the ack wait. Whatever a build stored before it stopped is kept, so its rerun
        resumes.
        """
        self._stopping = True
        running = list(self._builds.values())
        for task, _ in running:
            task.cancel()
        for task, held in running:
            await asyncio.wait([task])  # its outcome is the build's to log
            # Released here, not in the build: a build cancelled before it began runs no code.
            if task.cancelled():
                await held.release()
        if running:
            log.info("graph_builds_handed_back", builds=len(running))

    async def close(self) -> None:
        await self.stop_builds()
        await self.community_scheduler.close()
        await self.scheduler.close()

    async def _build(self, room_id: str, build_id: str, held: HeldCommand) -> None:
        progress = BuildProgress(self._uow, room_id, build_id, held.attempt)
        alive = asyncio.create_task(held.keep_alive(progress), name=f"build-alive:{build_id}")
        try:
            ended = await self._run_build(progress)
        finally:
            alive.cancel()
            with suppress(asyncio.CancelledError):
                await alive
        if ended:
            self._ended_builds[build_id] = None
            while len(self._ended_builds) > MAX_REMEMBERED_BUILDS:
                del self._ended_builds[next(iter(self._ended_builds))]
        await held.settle(ended)

    async def _run_build(self, progress: BuildProgress) -> bool:
        """Run a build; True once its end is announced, False if not even a failure could be."""
        room_id, build_id = progress.room_id, progress.build_id
        try:
            await progress.emit("queued")
            async with self.scheduler.exclusive(room_id):
                errors = await self._build_steps(progress)
            error = "; ".join(errors) or None
            await progress.emit("done", "failed" if error else "succeeded", error=error)
            log.info("graph_build_done", room_id=room_id, build_id=build_id,
                     attempt=progress.attempt, errors=len(errors))  # fmt: skip
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("graph_build_failed", room_id=room_id, build_id=build_id)
            try:
                await progress.emit("done", "failed", error=f"{type(exc).__name__}: {exc}")
            except Exception:  # the outbox itself may be what failed: retry the command later
                log.exception("graph_build_end_unannounced", room_id=room_id, build_id=build_id)
                return False
            return True

    async def _build_steps(self, progress: BuildProgress) -> list[str]:
        """Ingest, then re-cluster and refresh reports; the errors of both."""
        room_id = progress.room_id
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
        return errors

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
