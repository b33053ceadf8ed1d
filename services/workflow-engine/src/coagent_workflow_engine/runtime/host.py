"""The runtime as the app starts and stops it: checkpointer, executor, worker pool, cancel relay."""

from __future__ import annotations

from typing import Any

from faststream.nats import NatsBroker
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from coagent_workflow_engine.consumers import CANCEL_SUBJECT
from coagent_workflow_engine.runtime.deps import RuntimeDeps
from coagent_workflow_engine.runtime.executor import RunExecutor
from coagent_workflow_engine.runtime.worker import WorkerPool
from coagent_workflow_engine.settings import WorkflowEngineSettings


def libpq_url(database_url: str) -> str:
    """psycopg wants ``postgresql://``; the service's URL names the asyncpg driver."""
    scheme, sep, rest = database_url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgresql") else database_url


#: LangGraph's checkpoint tables live in their own schema: ``AsyncPostgresSaver.setup()`` owns
#: and migrates them, so they stay out of the service's Alembic-managed (drift-checked) schema.
CHECKPOINT_SCHEMA = "langgraph"


async def checkpoint_saver(
    database_url: str, max_size: int
) -> tuple[AsyncPostgresSaver, AsyncConnectionPool[Any]]:
    """A pooled saver on ``CHECKPOINT_SCHEMA`` with its tables created (idempotent)."""
    conninfo = libpq_url(database_url)
    async with await AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {CHECKPOINT_SCHEMA}")
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo=conninfo,
        min_size=1,
        max_size=max_size,
        kwargs={
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            "options": f"-c search_path={CHECKPOINT_SCHEMA}",
        },
        open=False,
    )
    await pool.open(wait=True)
    saver = AsyncPostgresSaver(pool)
    await saver.setup()
    return saver, pool


class BrokerLive:
    """Live frames on core NATS through the service's broker connection."""

    def __init__(self, broker: NatsBroker) -> None:
        self._broker = broker

    async def publish(self, subject: str, data: bytes) -> None:
        await self._broker.publish(data, subject)


class EngineRuntime:
    """Owns the LangGraph checkpointer (``AsyncPostgresSaver``, thread id = run id) and workers."""

    def __init__(
        self, deps: RuntimeDeps, settings: WorkflowEngineSettings, broker: NatsBroker
    ) -> None:
        self.deps, self._cfg, self._broker = deps, settings, broker
        self._pool: AsyncConnectionPool[Any] | None = None
        self.workers: WorkerPool | None = None

    async def start(self) -> None:
        """Open the checkpoint pool, create LangGraph's tables, start the workers."""
        size = max(self._cfg.worker_concurrency, 1) + 2
        saver, self._pool = await checkpoint_saver(self._cfg.database_url, size)
        self.workers = WorkerPool(
            RunExecutor(self.deps, saver),
            concurrency=self._cfg.worker_concurrency,
            lease_s=self._cfg.lease_s,
            poll_s=self._cfg.poll_s,
        )
        await self.workers.start()

    async def stop(self) -> None:
        if self.workers is not None:
            await self.workers.stop()
        if self._pool is not None:
            await self._pool.close()

    async def wake(self, _: str) -> None:
        if self.workers is not None:
            self.workers.wake()

    def cancel_local(self, run_id: str) -> bool:
        return self.workers is not None and self.workers.cancel_local(run_id)

    async def cancel(self, run_id: str) -> None:
        """Stop ``run_id`` here if this process runs it, else ask every engine process."""
        if not self.cancel_local(run_id):
            await self._broker.publish(run_id.encode(), CANCEL_SUBJECT)
