"""http → update_artifact → subworkflow runs on PostgreSQL checkpoints, through the app and
through workers that die mid-run (a local HTTP server is allowed through the allow-list)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from coagent_cli.testing import eventually
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.db import create_engine, session_factory
from coagent_workflow_engine.adapters.postgres import outbox, runs
from coagent_workflow_engine.adapters.postgres_engine import PostgresEngineUnitOfWork
from coagent_workflow_engine.app import create_app
from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.llm import ChatModel, ChatRequest, Delta, OfflineChatModel
from coagent_workflow_engine.runtime.deps import AgentSpec, NullLive, RuntimeDeps
from coagent_workflow_engine.runtime.executor import RunExecutor
from coagent_workflow_engine.runtime.host import checkpoint_saver
from coagent_workflow_engine.runtime.ssrf import EgressPolicy
from coagent_workflow_engine.runtime.worker import WorkerPool
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.settings import WorkflowEngineSettings
from coagent_workflow_engine.workflows.domain import Caller
from coagent_workflow_engine.workflows.service import WorkflowService

pytestmark = pytest.mark.integration

OWNER = Caller("u1", "teacher")


def linear(*nodes: dict[str, Any], result_key: str | None = None) -> dict[str, Any]:
    end: dict[str, Any] = {"id": "end", "type": "end"}
    if result_key:
        end["config"] = {"result_key": result_key}
    ids = ["start", *(n["id"] for n in nodes), "end"]
    return {
        "schema_version": 1,
        "nodes": [{"id": "start", "type": "start"}, *nodes, end],
        "edges": [
            {"id": f"e{i}", "source": s, "target": t}
            for i, (s, t) in enumerate(zip(ids, ids[1:], strict=False))
        ],
    }


def agent(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "agent", "config": {"agent_id": node_id}}


def parent_graph(base_url: str, child_workflow: str) -> dict[str, Any]:
    fetch = {
        "id": "fetch",
        "type": "http",
        "config": {"url": base_url + "/json?topic=primes", "output_key": "fetched"},
    }
    note = {
        "id": "note",
        "type": "tool",
        "config": {
            "tool_name": "template",
            "arguments": {"template": "Fetched: {{fetched}}"},
            "output_key": "notes",
        },
    }
    save = {
        "id": "save",
        "type": "action",
        "config": {
            "action_type": "update_artifact",
            "title": "Research notes",
            "from_key": "notes",
        },
    }
    child = {
        "id": "child",
        "type": "subworkflow",
        "config": {
            "workflow_id": child_workflow,
            "inputs": {"notes": "notes"},
            "output_key": "sub",
        },
    }
    return linear(fetch, note, save, child, result_key="sub")


class Agents:
    async def resolve(self, agent_id: str, version: int | None) -> AgentSpec | None:
        return AgentSpec(agent_id, agent_id.title(), "student", "Be brief.", "offline", None, 1)

    async def api_key(self, agent: AgentSpec, running_user: str | None) -> str | None:
        return None


class SlowModel(OfflineChatModel):
    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        async for delta in super().stream(request):
            await asyncio.sleep(0.3)
            yield delta


class Models:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, spec: AgentSpec, key: str | None, run: Run) -> ChatModel:
        self.calls.append(spec.id)
        return SlowModel() if spec.id.startswith("slow") else OfflineChatModel()


@pytest.fixture
async def client(
    nats_url: str, database_url: str, settings: WorkflowEngineSettings
) -> AsyncIterator[httpx.AsyncClient]:
    cfg = WorkflowEngineSettings.model_validate(
        {
            **settings.model_dump(),
            "nats_url": nats_url,
            "database_url": database_url,
            "poll_s": 0.1,
            "lease_s": 5.0,
            "http_allow_networks": ["127.0.0.1/32"],
        }
    )
    app: FastAPI = create_app(cfg)
    app.state.runtime.deps.agents = Agents()
    app.state.runtime.deps.models = Models()
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(
        secret, InternalIdentity(user_id="u1", platform_role="teacher"), "workflow-engine"
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://engine", headers={HEADER: token}
        ) as http:
            yield http


async def _workflow(client: httpx.AsyncClient, graph: dict[str, Any]) -> str:
    response = await client.post("/api/v1/workflows", json={"name": "wf", "graph_data": graph})
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["id"]
    return workflow_id


async def _artifact_writes(database_url: str, run_id: str) -> list[dict[str, Any]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.payload).where(
                    outbox.c.subject == f"workflow.run.{run_id}.artifact_write.requested.v1"
                )
            )
            return [json.loads(r.payload) for r in rows]
    finally:
        await engine.dispose()


async def test_http_artifact_and_subworkflow_run_through_the_api(
    client: httpx.AsyncClient, database_url: str, local_http: str
) -> None:
    child_wf = await _workflow(client, linear(agent("writer")))
    parent_wf = await _workflow(client, parent_graph(local_http, child_wf))
    accepted = await client.post(
        f"/api/v1/workflows/{parent_wf}/execute", json={"room_id": "room-1", "input": {}}
    )
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]

    async def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/api/v1/workflows/{parent_wf}/runs/{run_id}")
        ).json()
        return body if body["status"] in ("succeeded", "failed", "cancelled", "timed_out") else None

    run = await eventually(finished, "the parent run to end", timeout_s=30)
    assert run["status"] == "succeeded", run
    steps = {s["node_id"]: s for s in run["steps"]}
    assert steps["fetch"]["output"]["fetched"]["body"]["query"] == "topic=primes"
    child_id = steps["child"]["input"]["child_run_id"]
    child = (await client.get(f"/api/v1/workflows/{child_wf}/runs/{child_id}")).json()
    assert (child["status"], child["parent_run_id"]) == ("succeeded", run_id)
    assert child["input"] == {"notes": steps["note"]["output"]["notes"]}
    assert child["output"]["last_message"]
    assert run["output"]["sub"] == child["output"]
    assert steps["child"]["tokens"] > 0
    [write] = await _artifact_writes(database_url, run_id)
    assert write["data"]["write_key"] == f"{run_id}.save"
    assert write["data"]["content"].startswith("Fetched: {")


async def test_a_bad_node_config_is_a_422_with_its_path(client: httpx.AsyncClient) -> None:
    graph = linear(
        {
            "id": "call",
            "type": "http",
            "config": {"url": "https://x.example", "headers": {"Host": "evil"}},
        }
    )
    response = await client.post("/api/v1/workflows", json={"name": "wf", "graph_data": graph})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["nodes", 1, "config"]
    assert "cannot be overridden" in problem["msg"]


async def test_a_parent_resumed_after_its_worker_died_continues_the_same_child(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    saver, pool = await checkpoint_saver(database_url, 4)
    models = Models()
    deps = RuntimeDeps(
        uow=lambda: PostgresEngineUnitOfWork(sessions, lambda: None),
        agents=Agents(),
        live=NullLive(),
        models=models,
        egress=EgressPolicy(),
    )
    service = WorkflowEngineService(deps.uow)
    first = WorkerPool(
        RunExecutor(deps, saver), concurrency=1, lease_s=30, poll_s=0.1, owner="dies"
    )
    second = WorkerPool(
        RunExecutor(deps, saver), concurrency=1, lease_s=30, poll_s=0.1, owner="takes-over"
    )
    workflows = WorkflowService(deps.uow)
    try:
        child_wf, _ = await workflows.create(
            OWNER, "child", linear(agent("a"), agent("slow-b")), True
        )
        node = {"id": "child", "type": "subworkflow", "config": {"workflow_id": child_wf.id}}
        parent_wf, _ = await workflows.create(OWNER, "parent", linear(node), True)
        await first.start()
        run = await service.execute(OWNER, parent_wf.id, "room-x", {})

        async def mid_child() -> bool:
            return "slow-b" in models.calls

        await eventually(mid_child, "the child's second agent to start", timeout_s=15)
        await first.stop()  # the parent's worker is gone mid-child: nothing terminal written
        async with sessions() as session:
            await session.execute(
                update(runs)
                .where(runs.c.status == "running", runs.c.lease_owner == "dies")
                .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        await second.start()

        async def done() -> Run | None:
            found, _ = await service.get_run(OWNER, parent_wf.id, run.id)
            return found if found.is_terminal else None

        finished = await eventually(done, "the parent to finish after the takeover", timeout_s=30)
        assert finished.status == "succeeded", finished.error
        async with sessions() as session:
            children = (
                (await session.execute(select(runs).where(runs.c.parent_run_id == run.id)))
                .mappings()
                .all()
            )
        assert len(children) == 1  # the same child run was continued, not started again
        assert children[0]["status"] == "succeeded"
        assert models.calls.count("a") == 1  # the child resumed after its first agent
    finally:
        await second.stop()
        await first.stop()
        await pool.close()
        await engine.dispose()
