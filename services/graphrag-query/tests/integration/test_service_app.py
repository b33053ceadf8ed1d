"""The whole graphrag-query app against real NATS JetStream and the FalkorDB-loaded Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from pydantic import SecretStr

from coagent_cli.testing import eventually, fresh_consumer
from coagent_contracts.graphrag import IngestCompletedData, IngestCompletedV1
from coagent_contracts.streams import GRAPHRAG
from coagent_graphrag_query.app import create_app
from coagent_graphrag_query.service import BUILD_STATUS_CONSUMER
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

pytestmark = pytest.mark.integration

SECRET = "integration-internal-secret-32-bytes"


@pytest.fixture
async def app(nats_url: str, redis_url: str, graph_url: str) -> AsyncIterator[FastAPI]:
    settings = GraphragQuerySettings(
        env="test",
        nats_url=nats_url,
        redis_url=redis_url,
        graph_url=graph_url,
        internal_token_secret=SecretStr(SECRET),
    )
    await fresh_consumer(nats_url, GRAPHRAG.name, BUILD_STATUS_CONSUMER)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    identity = InternalIdentity(user_id="u-1", platform_role="student")
    headers = {HEADER: sign_identity(SECRET, identity, "graphrag-query")}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
        yield c


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def completed(room_id: str, job_id: str = "j-1") -> IngestCompletedV1:
    return IngestCompletedV1(
        producer="graphrag-ingest",
        data=IngestCompletedData(
            room_id=room_id, job_id=job_id, status="succeeded", entities=4, relations=3, chunks=2
        ),
    )


async def publish(js: JetStreamContext, subject: str, body: bytes, msg_id: str) -> int:
    ack = await js.publish(subject, body, stream=GRAPHRAG.name, headers={"Nats-Msg-Id": msg_id})
    return ack.seq


async def consumed_up_to(js: JetStreamContext, stream_seq: int) -> bool:
    """The consumer has settled (acked or terminated) every message up to ``stream_seq``."""
    info = await js.consumer_info(GRAPHRAG.name, BUILD_STATUS_CONSUMER)
    return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= stream_seq


async def build_status(client: httpx.AsyncClient, room_id: str) -> dict[str, object] | None:
    response = await client.get(f"/internal/rooms/{room_id}/build-status")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_ready_when_nats_the_graph_and_redis_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {
        "nats": "ok",
        "graph": "ok",
        "vectors": "ok",
        "redis": "ok",
    }


async def test_a_finished_job_shows_in_the_build_status(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    response = await client.get(f"/internal/rooms/{room_id}/build-status")
    assert response.status_code == 404
    assert response.json()["code"] == "build_status_not_found"

    event = completed(room_id)
    await publish(js, event.subject, event.model_dump_json().encode(), event.event_id)

    status = await eventually(lambda: build_status(client, room_id))
    assert status["last_job_id"] == "j-1"
    assert status["status"] == "succeeded"
    assert (status["entities"], status["relations"], status["chunks"]) == (4, 3, 2)


async def test_a_redelivered_event_is_counted_once(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    event = completed(room_id)
    body = event.model_dump_json().encode()
    await publish(js, event.subject, body, event.event_id)
    await eventually(lambda: build_status(client, room_id))

    # A new message id gets past JetStream's dedup, as a re-publish after the window would.
    seq = await publish(js, event.subject, body, f"again-{event.event_id}")
    await eventually(lambda: consumed_up_to(js, seq))

    status = await build_status(client, room_id)
    assert status is not None
    assert (status["jobs_succeeded"], status["entities"]) == (1, 4)


async def test_an_invalid_payload_is_terminated_and_later_events_flow(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    subject = completed(room_id).subject
    bad_seq = await publish(js, subject, b"{not json", uuid.uuid4().hex)
    await eventually(lambda: consumed_up_to(js, bad_seq))

    event = completed(room_id, "j-after")
    await publish(js, event.subject, event.model_dump_json().encode(), event.event_id)
    status = await eventually(lambda: build_status(client, room_id))
    assert status["last_job_id"] == "j-after"
