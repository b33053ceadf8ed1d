"""In-memory implementations of every workflow-engine port (unit tests, local experiments)."""

from __future__ import annotations

from coagent_kit.unit_of_work import MemoryEventLog
from coagent_kit.unit_of_work import MemoryUnitOfWork as KitMemoryUnitOfWork
from coagent_workflow_engine.adapters.memory_agents import AgentTables, MemoryAgentRepositories
from coagent_workflow_engine.adapters.memory_engine import (
    EngineTables,
    MemoryHistory,
    MemoryRunClaims,
    MemorySteps,
    MemoryWorkflows,
)
from coagent_workflow_engine.domain import Run


class MemoryStore(MemoryEventLog):
    """Committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, Run] = {}
        self.agent_tables = AgentTables()
        self.engine_tables = EngineTables()


class MemoryRunRepository(MemoryRunClaims):
    """Adds to a staging dict; the unit of work merges it on commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.staged: dict[str, Run] = {}
        super().__init__(store.runs, self.staged)

    async def add(self, run: Run) -> bool:
        key = run.trigger.firing_key if run.trigger else None
        if key is not None and any(
            r.trigger is not None and r.trigger.firing_key == key for r in self._all()
        ):
            return False
        if run.idempotency_key is not None and await self.by_idempotency_key(
            run.workflow_id, run.created_by, run.idempotency_key
        ):
            return False
        self.staged[run.id] = run
        return True

    async def get(self, workflow_id: str, run_id: str) -> Run | None:
        run = self.staged.get(run_id) or self._store.runs.get(run_id)
        return run if run is not None and run.workflow_id == workflow_id else None

    async def list_for_workflow(self, workflow_id: str, limit: int) -> list[Run]:
        runs = [r for r in self._all() if r.workflow_id == workflow_id]
        runs.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return runs[:limit]

    def _all(self) -> list[Run]:
        return list({**self._store.runs, **self.staged}.values())


class MemoryUnitOfWork(KitMemoryUnitOfWork):
    """Buffers writes and events; nothing is visible until ``commit``."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self._store = store

    def begin(self) -> None:
        self.runs = MemoryRunRepository(self._store)
        self._bind_agents(MemoryAgentRepositories(self._store.agent_tables.copy()))
        self._engine_tables = self._store.engine_tables.copy()
        self.steps = MemorySteps(self._engine_tables)
        self.workflows = MemoryWorkflows(self._engine_tables)
        self.history = MemoryHistory(self._engine_tables)

    def _bind_agents(self, repos: MemoryAgentRepositories) -> None:
        self._agent_tables = repos.staged
        self.agents, self.agent_versions = repos.agents, repos.agent_versions
        self.agent_keys, self.agent_types = repos.agent_keys, repos.agent_types
        self.room_agents, self.wallet_keys = repos.room_agents, repos.wallet_keys

    def apply(self) -> None:
        self._store.runs.update(self.runs.staged)
        self._store.agent_tables = self._agent_tables
        self._store.engine_tables = self._engine_tables
