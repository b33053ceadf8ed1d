"""The internal HTTP API on an app built like the real one, over the in-memory adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from coagent_contracts.graphrag import IngestCompletedData, IngestCompletedV1
from coagent_graphrag_query.adapters.memory import MemoryBuildStatusStore
from coagent_graphrag_query.endpoints import router
from coagent_graphrag_query.service import QueryService
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_kit.app import build_app
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity

SECRET = "unit-test-internal-secret-32-bytes-long"


def token(audience: str = "graphrag-query", secret: str = SECRET) -> dict[str, str]:
    identity = InternalIdentity(user_id="u-1", platform_role="student", resource_role="member")
    return {HEADER: sign_identity(secret, identity, audience)}


@pytest.fixture
def service() -> QueryService:
    return QueryService(MemoryBuildStatusStore())


@pytest.fixture
async def client(service: QueryService) -> AsyncIterator[httpx.AsyncClient]:
    settings = GraphragQuerySettings(env="test", internal_token_secret=SecretStr(SECRET))
    app = build_app(settings, title="graphrag-query under test")
    app.state.query = service
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_the_build_status_of_a_room(client: httpx.AsyncClient, service: QueryService) -> None:
    event = IngestCompletedV1(
        producer="graphrag-ingest",
        data=IngestCompletedData(
            room_id="room-1", job_id="j-1", status="failed", chunks=4, error="extractor timed out"
        ),
    )
    await service.record_ingest_completed(event)

    response = await client.get("/internal/rooms/room-1/build-status", headers=token())

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "room_id": "room-1",
        "last_job_id": "j-1",
        "status": "failed",
        "error": "extractor timed out",
        "jobs_succeeded": 0,
        "jobs_failed": 1,
        "entities": 0,
        "relations": 0,
        "chunks": 4,
        "updated_at": body["updated_at"],
    }
    assert body["updated_at"].startswith(event.occurred_at.isoformat()[:19])


async def test_404_before_the_first_build(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/rooms/room-1/build-status", headers=token())
    assert response.status_code == 404
    assert response.json()["code"] == "build_status_not_found"


async def test_no_identity_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/rooms/room-1/build-status")
    assert response.status_code == 401
    assert response.json()["code"] == "identity_missing"


async def test_a_token_for_another_service_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/internal/rooms/room-1/build-status", headers=token(audience="graphrag-ingest")
    )
    assert response.status_code == 401
    assert response.json()["code"] == "identity_invalid"
