"""The worker pool: claim runs under a lease, heartbeat them, and stop them on cancel.

Claims go through the runs table (``FOR UPDATE SKIP LOCKED``), one dispatcher per process filling
its free slots, so any number of processes share the work and a run whose worker died (lease not
renewed) is claimed again within ``lease_s`` plus one poll. Cancel is cooperative but immediate:
the asyncio task running the run is cancelled, which interrupts an in-flight model stream;
requests reach the owning process through a core-NATS subject every engine process subscribes
to, and the heartbeat also re-reads the DB flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from coagent_kit.logging import get_logger
from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.runtime.executor import RunExecutor

log = get_logger(__name__)


class WorkerPool:
    """Up to ``concurrency`` runs at once in this process, claimed by one dispatcher.

    One claim query per poll while idle (not one per slot), and a freed slot claims the next
    queued run at once, so a backlog drains without waiting for a poll.
    """

    def __init__(
        self,
        executor: RunExecutor,
        *,
        concurrency: int = 4,
        lease_s: float = 15.0,
        poll_s: float = 0.5,
        owner: str | None = None,
    ) -> None:
        self._executor = executor
        self._uow = executor.deps.uow
        self._clock = executor.deps.clock
        self.owner = owner or f"engine-{uuid.uuid4().hex[:12]}"
        self._concurrency, self._lease_s, self._poll_s = concurrency, lease_s, poll_s
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(max(concurrency, 1))
        self._dispatcher: asyncio.Task[None] | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self.running: dict[str, asyncio.Task[None]] = {}
        self._cancelling: set[str] = set()

    async def start(self) -> None:
        if self._concurrency > 0 and self._dispatcher is None:
            self._slots = asyncio.Semaphore(self._concurrency)
            self._dispatcher = asyncio.create_task(self._dispatch(), name=f"{self.owner}-claims")

    async def stop(self) -> None:
        """Stop claiming; runs in flight keep their lease and are resumed by another worker."""
        tasks = [t for t in (self._dispatcher, *self._workers) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._dispatcher = None
        self._workers.clear()

    def wake(self) -> None:
        """A run was queued in this process: claim now rather than at the next poll."""
        self._wake.set()

    def cancel_local(self, run_id: str) -> bool:
        """Cancel the task running ``run_id`` here, if any; True when there was one."""
        task = self.running.get(run_id)
        if task is None or task.done():
            return False
        self._cancelling.add(run_id)
        task.cancel()
        return True

    async def _dispatch(self) -> None:
        while True:
            await self._slots.acquire()
            self._wake.clear()  # before the claim: a run queued during it wakes the wait below
            try:
                run = await self._claim()
            except Exception:
                log.exception("run_claim_failed", owner=self.owner)
                run = None
            if run is None:
                self._slots.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)
                continue
            worker = asyncio.create_task(self._work(run), name=f"{self.owner}-{run.id}")
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)

    async def _work(self, run: Run) -> None:
        try:
            await self._run(run)
        finally:
            self._slots.release()

    async def _claim(self) -> Run | None:
        async with self._uow() as uow:
            run = await uow.runs.claim(
                self.owner, self._lease_s, self._clock(), exclude=tuple(self.running)
            )
            await uow.commit()
        return run

    async def _run(self, run: Run) -> None:
        task = asyncio.create_task(self._executor.execute(run), name=f"run-{run.id}")
        self.running[run.id] = task
        beat = asyncio.create_task(self._heartbeat(run.id))
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:  # the pool stops: leave the run to its lease
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise
        finally:
            beat.cancel()
            self.running.pop(run.id, None)
        if task.cancelled() and run.id in self._cancelling:
            self._cancelling.discard(run.id)
            await self._executor.finish_cancelled(run.id, self.owner, "cancelled on request")
        elif not task.cancelled() and task.exception() is not None:
            log.error("run_task_failed", run_id=run.id, error=repr(task.exception()))

    async def _heartbeat(self, run_id: str) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                async with self._uow() as uow:
                    held = await uow.runs.renew(run_id, self.owner, self._lease_s, self._clock())
                    await uow.commit()
            except Exception:
                log.exception("run_heartbeat_failed", run_id=run_id)
                continue
            if held is None:
                log.warning("run_lease_lost", run_id=run_id, owner=self.owner)
                task = self.running.get(run_id)
                if task is not None:
                    task.cancel()  # not a cancel request: whoever holds the lease goes on
                return
            if held.cancel_requested:
                self.cancel_local(run_id)
