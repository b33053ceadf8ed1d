"""The internal HTTP API on an app built like the real one, over the in-memory adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.endpoints import router
from coagent_graphrag_ingest.service import IngestService
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

SECRET = "unit-test-internal-secret-32-bytes-long"


def token(audience: str = "graphrag-ingest", secret: str = SECRET) -> dict[str, str]:
    identity = InternalIdentity(user_id="u-1", platform_role="student", resource_role="member")
    return {HEADER: sign_identity(secret, identity, audience)}


@pytest.fixture
def service() -> IngestService:
    store = MemoryStore()
    return IngestService(lambda: MemoryUnitOfWork(store))


@pytest.fixture
async def client(service: IngestService) -> AsyncIterator[httpx.AsyncClient]:
    settings = GraphragIngestSettings(env="test", internal_token_secret=SecretStr(SECRET))
    app = build_app(settings, title="graphrag-ingest under test")
    app.state.ingest = service
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def record(service: IngestService, room_id: str, message_id: str) -> None:
    await service.record_message(
        MessagePostedV1(
            producer="chat",
            data=MessagePostedData(
                message_id=message_id,
                room_id=room_id,
                seq=1,
                sender_kind="human",
                content="hello",
                created_at=datetime.now(UTC),
            ),
        )
    )


async def test_lists_the_rooms_jobs_newest_first(
    client: httpx.AsyncClient, service: IngestService
) -> None:
    await record(service, "room-1", "m-1")
    await record(service, "room-1", "m-2")
    await record(service, "room-2", "m-3")

    response = await client.get("/api/v1/graph/room-1/ingest-jobs", headers=token())

    assert response.status_code == 200
    body = response.json()
    assert [j["source_id"] for j in body] == ["m-2", "m-1"]
    assert body[0]["room_id"] == "room-1"
    assert body[0]["source_kind"] == "message"
    assert body[0]["status"] == "pending"
    assert set(body[0]) == {
        "job_id",
        "room_id",
        "source_kind",
        "source_id",
        "source_event_id",
        "status",
        "created_at",
        "updated_at",
    }


async def test_limit_bounds_the_page(client: httpx.AsyncClient, service: IngestService) -> None:
    for n in range(3):
        await record(service, "room-1", f"m-{n}")
    response = await client.get(
        "/api/v1/graph/room-1/ingest-jobs", params={"limit": 1}, headers=token()
    )
    assert [j["source_id"] for j in response.json()] == ["m-2"]


@pytest.mark.parametrize("limit", [0, 501, "many"])
async def test_an_out_of_range_limit_is_refused(
    client: httpx.AsyncClient, limit: int | str
) -> None:
    response = await client.get(
        "/api/v1/graph/room-1/ingest-jobs", params={"limit": limit}, headers=token()
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_a_room_without_jobs_lists_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/graph/nowhere/ingest-jobs", headers=token())
    assert response.status_code == 200
    assert response.json() == []


async def test_no_identity_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/graph/room-1/ingest-jobs")
    assert response.status_code == 401
    assert response.json()["code"] == "identity_missing"


@pytest.mark.parametrize(
    ("audience", "secret"),
    [("graphrag-query", SECRET), ("graphrag-ingest", "another-secret-entirely-32-bytes-long")],
    ids=["other-audience", "forged"],
)
async def test_a_token_not_for_this_service_is_401(
    client: httpx.AsyncClient, audience: str, secret: str
) -> None:
    headers = token(audience=audience, secret=secret)
    response = await client.get("/api/v1/graph/room-1/ingest-jobs", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "identity_invalid"


async def test_liveness_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok", "service": "graphrag-ingest"}
