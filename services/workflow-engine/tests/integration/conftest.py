"""Integration fixtures: the service's database (migrated once per test module) and workflows
put straight into it. ``engine``, ``sessions`` and ``nc`` come from the fleet's test plugin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from coagent_kit.db import create_engine, session_factory
from coagent_workflow_engine.adapters.postgres_engine import PostgresEngineUnitOfWork
from coagent_workflow_engine.graphs import parse_graph
from coagent_workflow_engine.workflows.domain import Workflow, WorkflowVersion

START_END: dict[str, Any] = {
    "schema_version": 1,
    "nodes": [{"id": "start", "type": "start"}, {"id": "end", "type": "end"}],
    "edges": [{"id": "e1", "source": "start", "target": "end"}],
}
Seed = Callable[..., Awaitable[None]]


@pytest.fixture(scope="module")
def database_url(service_database_url: Callable[[str], str]) -> str:
    # Sync on purpose: migrating runs its own event loop, which cannot start inside a running one.
    return service_database_url("workflow-engine")


@pytest.fixture
def seed(database_url: str) -> Seed:
    """``await seed(workflow_id, graph=START_END, owner="u1")``: an active workflow, version 1."""

    async def put(workflow_id: str, graph: dict[str, Any] | None = None, owner: str = "u1") -> None:
        canonical = parse_graph(graph or START_END, runnable=False).model_dump(mode="json")
        now = datetime.now(UTC)
        engine = create_engine(database_url)
        try:
            async with PostgresEngineUnitOfWork(session_factory(engine), lambda: None) as uow:
                await uow.workflows.add(
                    Workflow(
                        workflow_id, workflow_id, owner, True, 1, canonical["limits"], now, now
                    )
                )
                await uow.workflows.add_version(
                    WorkflowVersion(workflow_id, 1, canonical, owner, now)
                )
                await uow.commit()
        finally:
            await engine.dispose()

    return put
