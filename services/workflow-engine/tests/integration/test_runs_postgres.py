"""Runs executed by real workers on PostgreSQL (checkpoints, leases) and NATS (cancel, deltas)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from coagent_cli.testing import eventually
from coagent_contracts.live import room_live
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_kit.db import create_engine, session_factory
from coagent_workflow_engine.adapters.postgres import outbox, runs
from coagent_workflow_engine.adapters.postgres_engine import PostgresEngineUnitOfWork
from coagent_workflow_engine.app import create_app
from coagent_workflow_engine.consumers import CANCEL_SUBJECT
from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.llm import ChatModel, ChatRequest, Delta, OfflineChatModel
from coagent_workflow_engine.runtime.deps import AgentSpec, NullLive, RuntimeDeps
from coagent_workflow_engine.runtime.executor import RunExecutor
from coagent_workflow_engine.runtime.host import checkpoint_saver
from coagent_workflow_engine.runtime.worker import WorkerPool
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.settings import WorkflowEngineSettings
from coagent_workflow_engine.workflows.domain import Caller
from coagent_workflow_engine.workflows.service import WorkflowService

pytestmark = pytest.mark.integration

OWNER = Caller("u1", "teacher")
START = {"id": "start", "type": "start"}
END = {"id": "end", "type": "end"}


def chain(*agents: str) -> dict[str, Any]:
    ids = ["start", *agents, "end"]
    return {
        "schema_version": 1,
        "nodes": [
            START,
            *({"id": a, "type": "agent", "config": {"agent_id": a}} for a in agents),
            END,
        ],
        "edges": [
            {"id": f"e{i}", "source": s, "target": t}
            for i, (s, t) in enumerate(zip(ids, ids[1:], strict=False))
        ],
    }


class Agents:
    async def resolve(self, agent_id: str, version: int | None) -> AgentSpec | None:
        return AgentSpec(
            agent_id, agent_id.title(), "student", f"You are {agent_id}.", "offline", None, 1
        )

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
async def app(
    nats_url: str, database_url: str, settings: WorkflowEngineSettings
) -> AsyncIterator[FastAPI]:
    cfg = settings.model_copy(
        update={"nats_url": nats_url, "database_url": database_url, "poll_s": 0.1, "lease_s": 5.0}
    )
    app = create_app(cfg)
    app.state.runtime.deps.agents = Agents()
    app.state.runtime.deps.models = Models()
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(
    app: FastAPI, settings: WorkflowEngineSettings
) -> AsyncIterator[httpx.AsyncClient]:
    secret = settings.internal_token_secret.get_secret_value()
    token = sign_identity(
        secret, InternalIdentity(user_id="u1", platform_role="teacher"), "workflow-engine"
    )
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


async def _outbox_subjects(database_url: str, run_id: str) -> list[tuple[str, str]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.subject, outbox.c.payload)
                .where(outbox.c.subject.like(f"workflow.run.{run_id}.%"))
                .order_by(outbox.c.position)
            )
            return [(r.subject, r.payload) for r in rows]
    finally:
        await engine.dispose()


async def test_execute_runs_to_succeeded_with_steps_and_events(
    client: httpx.AsyncClient, database_url: str
) -> None:
    workflow = await _workflow(client, chain("a", "b"))
    room = f"room-{uuid.uuid4().hex[:8]}"
    accepted = await client.post(
        f"/api/v1/workflows/{workflow}/execute", json={"room_id": room, "input": {"content": "hi"}}
    )
    assert (accepted.status_code, accepted.json()["status"]) == (202, "queued")
    run_id = accepted.json()["run_id"]

    async def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/api/v1/workflows/{workflow}/runs/{run_id}")
        ).json()
        return body if body["status"] not in ("queued", "running") else None

    run = await eventually(finished, "the run to finish", timeout_s=15)
    assert run["status"] == "succeeded", run["error"]
    assert [s["node_id"] for s in run["steps"]] == ["start", "a", "b", "end"]
    assert all(
        set(s)
        >= {
            "node_id",
            "status",
            "started_at",
            "finished_at",
            "input",
            "output",
            "tokens",
            "cost",
            "error",
        }
        for s in run["steps"]
    )
    kinds = [
        subject.split(f"{run_id}.", 1)[1]
        for subject, _ in await _outbox_subjects(database_url, run_id)
    ]
    assert kinds[0] == "queued.v1"
    assert kinds[1] == "started.v1"
    assert kinds[-1] == "completed.v1"
    assert kinds.count("agent_message.produced.v1") == 2
    assert kinds.count("node.finished.v1") == 4


async def test_cancel_during_a_slow_stream_reaches_cancelled_within_two_seconds(
    client: httpx.AsyncClient, nats_url: str
) -> None:
    workflow = await _workflow(client, chain("slow"))
    room = f"room-{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(nats_url)
    deltas: list[bytes] = []

    async def on_delta(msg: Any) -> None:
        deltas.append(msg.data)

    await nc.subscribe(room_live(room), cb=on_delta)
    try:
        accepted = await client.post(
            f"/api/v1/workflows/{workflow}/execute", json={"room_id": room}
        )
        run_id = accepted.json()["run_id"]
        await eventually(lambda: _ready(deltas), "token deltas on the room", timeout_s=10)
        asked = time.monotonic()
        response = await client.post(f"/api/v1/workflows/{workflow}/runs/{run_id}/cancel")
        assert response.status_code == 202

        async def cancelled() -> bool:
            body = (await client.get(f"/api/v1/workflows/{workflow}/runs/{run_id}")).json()
            return bool(body["status"] == "cancelled")

        await eventually(cancelled, "the run to be cancelled", timeout_s=2.0)
        assert time.monotonic() - asked < 2.0
    finally:
        await nc.close()


async def test_a_cancel_request_on_nats_stops_the_run_in_the_process_that_runs_it(
    client: httpx.AsyncClient, nats_url: str
) -> None:
    workflow = await _workflow(client, chain("slow"))
    room = f"room-{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(nats_url)
    deltas: list[bytes] = []

    async def on_delta(msg: Any) -> None:
        deltas.append(msg.data)

    await nc.subscribe(room_live(room), cb=on_delta)
    try:
        run_id = (
            await client.post(f"/api/v1/workflows/{workflow}/execute", json={"room_id": room})
        ).json()["run_id"]
        await eventually(lambda: _ready(deltas), "token deltas on the room", timeout_s=10)
        await nc.publish(CANCEL_SUBJECT, run_id.encode())  # as another engine process would

        async def cancelled() -> bool:
            body = (await client.get(f"/api/v1/workflows/{workflow}/runs/{run_id}")).json()
            return bool(body["status"] == "cancelled")

        await eventually(cancelled, "the run to be cancelled", timeout_s=2.0)
    finally:
        await nc.close()


async def _ready(deltas: list[bytes]) -> bool:
    return len(deltas) >= 1


async def test_a_run_whose_worker_died_is_resumed_from_its_checkpoint_by_another(
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
    )
    service = WorkflowEngineService(deps.uow)
    first = WorkerPool(
        RunExecutor(deps, saver), concurrency=1, lease_s=30, poll_s=0.1, owner="dies"
    )
    second = WorkerPool(
        RunExecutor(deps, saver), concurrency=1, lease_s=30, poll_s=0.1, owner="takes-over"
    )
    try:
        workflow, _ = await WorkflowService(deps.uow).create(
            OWNER, "wf", chain("a", "slow-b"), True
        )
        await first.start()
        run = await service.execute(OWNER, workflow.id, "room-x", {"content": "hello"})

        async def mid_stream() -> bool:
            return "slow-b" in models.calls  # a's step is committed, b is streaming

        await eventually(mid_stream, "the second agent to start", timeout_s=10)
        await first.stop()  # killed mid-call: no terminal state is written
        async with sessions() as session:
            row = (await session.execute(select(runs).where(runs.c.id == run.id))).mappings().one()
            assert (row["status"], row["lease_owner"]) == ("running", "dies")
            await session.execute(
                update(runs)
                .where(runs.c.id == run.id)
                .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        await second.start()

        async def done() -> Run | None:
            found, _ = await service.get_run(OWNER, workflow.id, run.id)
            return found if found.is_terminal else None

        finished = await eventually(done, "the run to finish on the second worker", timeout_s=20)
        assert (finished.status, finished.attempt) == ("succeeded", 2)
        assert models.calls.count("a") == 1  # resumed from the checkpoint after a
        produced = [
            payload
            for subject, payload in await _outbox_subjects(database_url, run.id)
            if subject.endswith("agent_message.produced.v1")
        ]
        stream_ids = [p.split('"stream_id":"', 1)[1].split('"', 1)[0] for p in produced]
        assert stream_ids == [f"{run.id}.a.2", f"{run.id}.slow-b.3"]
    finally:
        await second.stop()
        await first.stop()
        await pool.close()
        await engine.dispose()


async def test_a_lapsed_lease_does_not_start_a_second_execution_in_the_same_pool(
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
    )
    service = WorkflowEngineService(deps.uow)
    worker = WorkerPool(RunExecutor(deps, saver), concurrency=2, lease_s=30, poll_s=0.1)
    try:
        workflow, _ = await WorkflowService(deps.uow).create(OWNER, "wf", chain("slow-a"), True)
        await worker.start()
        run = await service.execute(OWNER, workflow.id, "room-y", {"content": "hello"})

        async def streaming() -> bool:
            return "slow-a" in models.calls

        await eventually(streaming, "the agent to start", timeout_s=10)
        # A starved heartbeat: the lease lapses while this pool still executes the run.
        async with sessions() as session:
            await session.execute(
                update(runs)
                .where(runs.c.id == run.id)
                .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        await asyncio.sleep(0.5)  # several polls with a free slot

        async def done() -> Run | None:
            found, _ = await service.get_run(OWNER, workflow.id, run.id)
            return found if found.is_terminal else None

        finished = await eventually(done, "the run to finish", timeout_s=20)
        assert (finished.status, finished.attempt) == ("succeeded", 1)
        assert models.calls.count("slow-a") == 1
    finally:
        await worker.stop()
        await pool.close()
        await engine.dispose()
