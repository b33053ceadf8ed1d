"""The build route over real NATS JetStream and Redis: the command goes out, progress comes in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from pydantic import SecretStr

from coagent_cli.testing import eventually, fresh_consumer
from coagent_contracts.graphrag import (
    GraphBuildProgressData,
    GraphBuildProgressV1,
    GraphBuildRequestedV1,
    graph_build_requested_subject,
)
from coagent_contracts.streams import GRAPHRAG
from coagent_graphrag_query.app import create_app
from coagent_graphrag_query.graph_builds import BUILDS_CONSUMER
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

pytestmark = pytest.mark.integration

SECRET = "integration-internal-secret-32-bytes"


@pytest.fixture
async def client(nats_url: str, redis_url: str, graph_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = GraphragQuerySettings(
        env="test", nats_url=nats_url, redis_url=redis_url, graph_url=graph_url,
        internal_token_secret=SecretStr(SECRET),
    )  # fmt: skip
    await fresh_consumer(nats_url, GRAPHRAG.name, BUILDS_CONSUMER)
    app: FastAPI = create_app(settings)
    identity = InternalIdentity(user_id="u-1", platform_role="student")
    headers = {HEADER: sign_identity(SECRET, identity, "graphrag-query")}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as c:
            yield c


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def test_a_build_request_becomes_a_command_and_progress_shows_in_status(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    accepted = await client.post(f"/api/v1/graph/{room_id}/build")
    assert accepted.status_code == 202, accepted.text
    build_id = accepted.json()["build_id"]
    # Single flight holds across requests (the slot lives in Redis).
    assert (await client.post(f"/api/v1/graph/{room_id}/build")).json()["build_id"] == build_id

    raw = await js.get_last_msg(GRAPHRAG.name, graph_build_requested_subject(room_id))
    command = GraphBuildRequestedV1.model_validate_json(raw.data or b"")
    assert (command.data.build_id, command.data.requested_by) == (build_id, "u-1")

    for step, stage, status in ((1, "ingest", "running"), (2, "done", "succeeded")):
        event = GraphBuildProgressV1(
            producer="graphrag-ingest",
            data=GraphBuildProgressData(
                room_id=room_id,
                build_id=build_id,
                step=step,
                stage=stage,  # type: ignore[arg-type]
                status=status,
                communities=3,  # type: ignore[arg-type]
            ),
        )
        await js.publish(event.subject, event.model_dump_json().encode(), stream=GRAPHRAG.name,
                         headers={"Nats-Msg-Id": event.event_id})  # fmt: skip

    async def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/api/v1/graph/{room_id}/status")).json()
        return body if body["graph_build"]["status"] == "succeeded" else None

    status = await eventually(finished, "progress projected", 30.0)
    assert status["is_building"] is False
    assert status["graph_build"]["communities"] == 3
    # The room is free again: the next request starts a new build.
    again = await client.post(f"/api/v1/graph/{room_id}/build")
    assert again.json()["build_id"] != build_id


async def test_a_build_rerun_after_a_crash_shows_its_attempt_in_status(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    build_id = (await client.post(f"/api/v1/graph/{room_id}/build")).json()["build_id"]

    async def publish(attempt: int, step: int, stage: str, status: str = "running") -> None:
        event = GraphBuildProgressV1.model_validate({
            "producer": "graphrag-ingest",
            "data": {"room_id": room_id, "build_id": build_id, "attempt": attempt,
                     "step": step, "stage": stage, "status": status, "communities": 2},
        })  # fmt: skip
        await js.publish(event.subject, event.model_dump_json().encode(), stream=GRAPHRAG.name,
                         headers={"Nats-Msg-Id": event.event_id})  # fmt: skip

    async def build_at(attempt: int, stage: str) -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/api/v1/graph/{room_id}/status")).json()
        build = body["graph_build"]
        return body if (build["attempt"], build["stage"]) == (attempt, stage) else None

    await publish(1, 1, "queued")
    await publish(1, 2, "reports")
    await eventually(lambda: build_at(1, "reports"), "first run projected", 30.0)
    # The first ingest process died; its command was redelivered and the build runs again.
    await publish(2, 1, "queued")
    rerun = await eventually(lambda: build_at(2, "queued"), "rerun projected", 30.0)
    assert rerun["is_building"] is True
    assert rerun["graph_build"]["status"] == "running"
    await publish(1, 3, "reports")  # late, from the first run: ignored
    await publish(2, 2, "done", "succeeded")
    done = await eventually(lambda: build_at(2, "done"), "rerun finished", 30.0)
    assert (done["is_building"], done["graph_build"]["status"]) == (False, "succeeded")
