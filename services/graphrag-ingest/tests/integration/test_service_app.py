"""The whole graphrag-ingest app against real NATS JetStream, PostgreSQL and FalkorDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from pydantic import SecretStr

from coagent_cli.testing import eventually, fresh_consumer
from coagent_contracts.chat import (
    MessagePostedData,
    MessagePostedV1,
    MessagesErasedData,
    MessagesErasedV1,
)
from coagent_contracts.graphrag import IngestRequestedV1, ingest_requested_subject
from coagent_contracts.streams import CHAT, GRAPHRAG
from coagent_graphrag_ingest.app import create_app
from coagent_graphrag_ingest.service import MESSAGES_CONSUMER
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import Scope
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

pytestmark = pytest.mark.integration

SECRET = "integration-internal-secret-32-bytes"


@pytest.fixture
async def app(nats_url: str, graph_url: str, database_url: str) -> AsyncIterator[FastAPI]:
    settings = GraphragIngestSettings(
        env="test",
        nats_url=nats_url,
        graph_url=graph_url,
        database_url=database_url,
        internal_token_secret=SecretStr(SECRET),
        debounce_quiet_s=1.0,
        debounce_max_wait_s=5.0,
    )
    await fresh_consumer(nats_url, CHAT.name, MESSAGES_CONSUMER)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    identity = InternalIdentity(user_id="u-1", platform_role="student")
    headers = {HEADER: sign_identity(SECRET, identity, "graphrag-ingest")}
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


def posted(room_id: str) -> MessagePostedV1:
    return MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id=f"m-{uuid.uuid4().hex[:8]}",
            room_id=room_id,
            seq=1,
            sender_kind="human",
            content="Ada proposes the graph schema",
            created_at=datetime.now(UTC),
        ),
    )


async def publish(js: JetStreamContext, subject: str, body: bytes, msg_id: str) -> int:
    ack = await js.publish(subject, body, stream=CHAT.name, headers={"Nats-Msg-Id": msg_id})
    return ack.seq


async def consumed_up_to(js: JetStreamContext, stream_seq: int) -> bool:
    """The ingest consumer has settled (acked or terminated) every message up to ``stream_seq``."""
    info = await js.consumer_info(CHAT.name, MESSAGES_CONSUMER)
    return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= stream_seq


async def requested_count(js: JetStreamContext, room_id: str) -> int:
    subject = ingest_requested_subject(room_id)
    info = await js.stream_info(GRAPHRAG.name, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def jobs(client: httpx.AsyncClient, room_id: str) -> list[dict[str, object]]:
    response = await client.get(f"/api/v1/graph/{room_id}/ingest-jobs")
    assert response.status_code == 200, response.text
    body: list[dict[str, object]] = response.json()
    return body


async def test_ready_when_postgres_nats_and_the_graph_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {
        "postgres": "ok", "nats": "ok", "graph": "ok", "vectors": "ok"
    }  # fmt: skip


async def test_a_posted_message_becomes_a_job_and_an_ingest_request(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    event = posted(room_id)
    await publish(js, event.subject, event.model_dump_json().encode(), event.event_id)

    [job] = await eventually(lambda: jobs(client, room_id))
    assert job["source_event_id"] == event.event_id
    assert job["source_id"] == event.data.message_id
    assert job["status"] == "pending"

    # The outbox relay carries the request to JetStream, under the event's own message id.
    await eventually(lambda: requested_count(js, room_id))
    raw = await js.get_last_msg(GRAPHRAG.name, ingest_requested_subject(room_id))
    request = IngestRequestedV1.model_validate_json(raw.data or b"")
    assert request.data.job_id == job["job_id"]
    assert request.causation_id == event.event_id
    assert (raw.headers or {}).get("Nats-Msg-Id") == request.event_id


async def test_a_redelivered_event_adds_no_job_and_no_request(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    event = posted(room_id)
    body = event.model_dump_json().encode()
    await publish(js, event.subject, body, event.event_id)
    await eventually(lambda: requested_count(js, room_id))

    # A new message id gets past JetStream's dedup, as a re-publish after the window would.
    seq = await publish(js, event.subject, body, f"again-{event.event_id}")
    await eventually(lambda: consumed_up_to(js, seq))

    assert len(await jobs(client, room_id)) == 1
    assert await requested_count(js, room_id) == 1


async def test_an_invalid_payload_is_terminated_and_later_messages_flow(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    subject = posted(room_id).subject
    bad_seq = await publish(js, subject, b'{"type": "chat.message.posted"}', uuid.uuid4().hex)
    await eventually(lambda: consumed_up_to(js, bad_seq))

    info = await js.consumer_info(CHAT.name, MESSAGES_CONSUMER)
    assert info.num_redelivered == 0  # terminated at once, not retried

    event = posted(room_id)
    await publish(js, event.subject, event.model_dump_json().encode(), event.event_id)
    [job] = await eventually(lambda: jobs(client, room_id))
    assert job["source_event_id"] == event.event_id
    # Let the relay finish publishing: stopping the app mid-publish is not what this tests.
    await eventually(lambda: requested_count(js, room_id))


async def test_an_erased_message_loses_its_job(
    client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    kept, doomed = posted(room_id), posted(room_id)
    for event in (kept, doomed):
        await publish(js, event.subject, event.model_dump_json().encode(), event.event_id)

    async def both() -> list[dict[str, object]] | None:
        found = await jobs(client, room_id)
        return found if len(found) == 2 else None

    await eventually(both)
    tombstone = MessagesErasedV1(
        producer="chat",
        data=MessagesErasedData(
            room_id=room_id, message_ids=(doomed.data.message_id,), reason="forgotten"
        ),
    )
    await publish(js, tombstone.subject, tombstone.model_dump_json().encode(), tombstone.event_id)

    async def only_the_kept_one() -> list[dict[str, object]] | None:
        found = await jobs(client, room_id)
        return found if len(found) == 1 else None

    [job] = await eventually(only_the_kept_one)
    assert job["source_id"] == kept.data.message_id


def said(room_id: str, seq: int, sender: str, content: str) -> MessagePostedV1:
    return MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id=f"m-{uuid.uuid4().hex[:8]}", room_id=room_id, seq=seq,
            sender_kind="human", sender_name=sender, content=content,
            created_at=datetime.now(UTC),
        ),
    )  # fmt: skip


async def test_posted_messages_become_graph_entities_and_a_tombstone_removes_them(
    app: FastAPI, client: httpx.AsyncClient, js: JetStreamContext
) -> None:
    graph: GraphStore = app.state.graph_store
    vectors: VectorIndex = app.state.vector_index
    room_id = f"room-{uuid.uuid4().hex[:12]}"
    scope = Scope(room_id)
    first = said(room_id, 1, "Ada", "We should run the Leiden Algorithm on FalkorDB.")
    second = said(room_id, 2, "Grace", "I will measure Modularity Scores tomorrow.")
    for event in (first, second):
        await publish(js, event.subject, event.model_dump_json().encode(), event.event_id)

    # No manual build: the debounced pass picks the burst up by itself.
    await eventually(lambda: graph.entity(scope, "Modularity Scores"), "extraction", 60.0)
    leiden = await graph.entity(scope, "Leiden Algorithm")
    assert leiden is not None
    assert leiden.source_ids == (first.data.message_id,)

    async def settled() -> bool:
        return all(j["status"] == "succeeded" for j in await jobs(client, room_id))

    await eventually(settled, "jobs settled", 30.0)

    tombstone = MessagesErasedV1(
        producer="chat",
        data=MessagesErasedData(
            room_id=room_id, message_ids=(second.data.message_id,), reason="forgotten"
        ),
    )
    await publish(js, tombstone.subject, tombstone.model_dump_json().encode(), tombstone.event_id)

    probe = FeatureHashingEmbedder(vectors.dimension).embed(["Grace Modularity Scores"])[0]

    async def forgotten() -> bool:
        # The graph forgets first, the vectors right after: wait for both.
        if await graph.entity(scope, "Modularity Scores") is not None:
            return False
        hits = await vectors.search(scope, probe, k=20)
        return bool(hits) and all(second.data.message_id not in h.source_ids for h in hits)

    await eventually(forgotten, "forgetting", 30.0)
    assert await graph.entity(scope, "Leiden Algorithm") is not None
