"""Run artifact writes on a real PostgreSQL: one artifact per run and node, concurrent
deliveries of one request applied once, updates recorded in the history."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_chat.adapters.postgres import PostgresUnitOfWork
from coagent_chat.adapters.postgres_artifacts import artifact_versions, artifacts
from coagent_chat.artifacts.run_writes import RunArtifactWriter
from coagent_contracts.workflow import ArtifactWriteRequestedData, ArtifactWriteRequestedV1

pytestmark = pytest.mark.integration


@pytest.fixture
def writer(sessions: async_sessionmaker[AsyncSession]) -> RunArtifactWriter:
    return RunArtifactWriter(lambda: PostgresUnitOfWork(sessions, lambda: None))


def request(room: str, content: Any, **fields: Any) -> ArtifactWriteRequestedV1:
    data = ArtifactWriteRequestedData(
        run_id="run-1",
        workflow_id="wf-1",
        workflow_version=1,
        room_id=room,
        node_id="save",
        write_key=f"{room}.save",
        title="Notes",
        content=content,
        written_by="workflow:wf-1",
        **fields,
    )
    return ArtifactWriteRequestedV1(producer="workflow-engine", data=data)


async def test_writes_of_one_node_create_one_artifact_and_then_revise_it(
    writer: RunArtifactWriter, sessions: async_sessionmaker[AsyncSession]
) -> None:
    room = f"room-{uuid.uuid4().hex[:12]}"
    first = request(room, "one")
    results = await asyncio.gather(*(writer.apply(first) for _ in range(3)))
    assert len([r for r in results if r is not None]) == 1  # concurrent redeliveries
    again = await writer.apply(request(room, "two", mode="append"))
    assert again is not None
    assert again.version == 2
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(artifacts).where(artifacts.c.room_id == room)
        )
        versions = await session.scalar(
            select(func.count())
            .select_from(artifact_versions)
            .where(artifact_versions.c.artifact_id == again.id)
        )
    assert (count, versions) == (1, 2)
    texts = [b["content"][0]["text"] for b in again.content["content"]]
    assert texts == ["one", "two"]
