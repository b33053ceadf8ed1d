"""A memory-backed runtime for unit tests: fixed agents, scripted models, InMemorySaver.

Helpers hang off the ``env`` fixture (``env.graph``, ``env.agent_node``): with pytest's
importlib import mode, test modules cannot import a sibling helper module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from coagent_workflow_engine.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.llm import ChatModel, ChatRequest, Delta, OfflineChatModel
from coagent_workflow_engine.runtime.deps import AgentSpec, NullLive, RuntimeDeps
from coagent_workflow_engine.runtime.executor import RunExecutor
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.workflows.domain import Caller
from coagent_workflow_engine.workflows.service import WorkflowService

OWNER = Caller("u1", "teacher")


def agent(agent_id: str, name: str | None = None, agent_type: str = "student") -> AgentSpec:
    return AgentSpec(
        id=agent_id,
        name=name or agent_id.title(),
        type=agent_type,
        system_prompt=f"You are {agent_id}.",
        provider="offline",
        model=None,
        version=3,
    )


class FixedAgents:
    """Every agent id resolves (offline provider); ``calls`` counts model constructions."""

    def __init__(self) -> None:
        self.known: dict[str, AgentSpec] = {}

    async def resolve(self, agent_id: str, version: int | None) -> AgentSpec | None:
        return self.known.get(agent_id) or agent(agent_id)

    async def api_key(self, agent: AgentSpec, running_user: str | None) -> str | None:
        return None


class SlowModel(OfflineChatModel):
    """Streams the offline reply one word every ``delay_s`` (a slow provider)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        async for delta in super().stream(request):
            await asyncio.sleep(self.delay_s)
            yield delta


@dataclass
class Models:
    """The model factory: offline, or slow for the agents named in ``slow``."""

    slow: dict[str, float] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __call__(self, spec: AgentSpec, key: str | None, run: Run) -> ChatModel:
        self.calls.append(spec.id)
        if spec.id in self.slow:
            return SlowModel(self.slow[spec.id])
        return OfflineChatModel()


@dataclass
class Env:
    store: MemoryStore
    deps: RuntimeDeps
    models: Models
    live: NullLive
    executor: RunExecutor
    workflows: WorkflowService
    runs: WorkflowEngineService

    async def workflow(self, graph: dict[str, Any], **limits: Any) -> str:
        if limits:
            graph = {**graph, "limits": limits}
        workflow, _ = await self.workflows.create(OWNER, "wf", graph, True)
        return workflow.id

    async def claim(self, owner: str = "w1") -> Run | None:
        async with MemoryUnitOfWork(self.store) as uow:
            run = await uow.runs.claim(owner, 15.0, self.deps.clock())
            await uow.commit()
        return run

    async def drive(self, owner: str = "w1") -> Run:
        """Claim the next run and execute it to its next resting state."""
        run = await self.claim(owner)
        assert run is not None, "no run to claim"
        await self.executor.execute(run)
        return self.store.runs[run.id]

    async def start(self, workflow_id: str, room_id: str | None = "r1", **payload: Any) -> Run:
        await self.runs.execute(OWNER, workflow_id, room_id, payload)
        return await self.drive()

    def steps(self, run_id: str) -> list[Any]:
        found = [s for s in self.store.engine_tables.steps.values() if s.run_id == run_id]
        return sorted(found, key=lambda s: (s.step, s.node_id))

    def events(self, kind: type, run_id: str) -> list[Any]:
        return [e for e in self.store.published if isinstance(e, kind) and e.data.run_id == run_id]

    @staticmethod
    def graph(nodes: list[dict[str, Any]], edges: list[tuple[str, ...]]) -> dict[str, Any]:
        return canonical(nodes, edges)

    @staticmethod
    def agent_node(node_id: str, agent_id: str | None = None, **config: Any) -> dict[str, Any]:
        return agent_node(node_id, agent_id, **config)


def make_env(slow: dict[str, float] | None = None) -> Env:
    store = MemoryStore()
    live = NullLive()
    models = Models(slow or {})

    def unit_of_work() -> MemoryUnitOfWork:
        return MemoryUnitOfWork(store)

    deps = RuntimeDeps(uow=unit_of_work, agents=FixedAgents(), live=live, models=models)
    return Env(
        store=store,
        deps=deps,
        models=models,
        live=live,
        executor=RunExecutor(deps, InMemorySaver()),
        workflows=WorkflowService(unit_of_work),
        runs=WorkflowEngineService(unit_of_work),
    )


def canonical(nodes: list[dict[str, Any]], edges: list[tuple[str, ...]]) -> dict[str, Any]:
    """A canonical document; an edge is ``(source, target)`` or ``(source, target, label)``."""
    return {
        "schema_version": 1,
        "nodes": nodes,
        "edges": [
            {
                "id": f"e{i}",
                "source": e[0],
                "target": e[1],
                **({"label": e[2]} if len(e) == 3 else {}),
            }
            for i, e in enumerate(edges)
        ],
    }


START = {"id": "start", "type": "start"}
END = {"id": "end", "type": "end"}


def agent_node(node_id: str, agent_id: str | None = None, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "agent", "config": {"agent_id": agent_id or node_id, **config}}


@pytest.fixture
def env() -> Env:
    return make_env()


@pytest.fixture
def slow_env() -> Env:
    """Agent ``slow`` streams a word every 0.2 s."""
    return make_env({"slow": 0.2})
