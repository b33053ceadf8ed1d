"""Artifact writes requested by workflow runs: created once per run and node, applied once."""

from __future__ import annotations

from typing import Any

import pytest

from coagent_chat.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_chat.artifacts.run_writes import RunArtifactWriter
from coagent_chat.artifacts.service import ArtifactService
from coagent_contracts.chat import ArtifactChangedV1
from coagent_contracts.workflow import ArtifactWriteRequestedData, ArtifactWriteRequestedV1


@pytest.fixture
def writer(store: MemoryStore) -> RunArtifactWriter:
    return RunArtifactWriter(lambda: MemoryUnitOfWork(store))


def request(content: Any, **fields: Any) -> ArtifactWriteRequestedV1:
    data: dict[str, Any] = {
        "run_id": "run-1",
        "workflow_id": "wf-1",
        "workflow_version": 1,
        "room_id": "r1",
        "node_id": "save",
        "write_key": "run-1.save",
        "title": "Summary",
        "written_by": "workflow:wf-1",
        **fields,
    }
    return ArtifactWriteRequestedV1(
        producer="workflow-engine", data=ArtifactWriteRequestedData(content=content, **data)
    )


def changes(store: MemoryStore) -> list[ArtifactChangedV1]:
    return [e for e in store.published if isinstance(e, ArtifactChangedV1)]


def texts(content: dict[str, Any]) -> list[str]:
    return [block["content"][0]["text"] for block in content["content"] if block["content"]]


async def test_the_first_write_creates_a_document_and_later_ones_update_it(
    writer: RunArtifactWriter, store: MemoryStore
) -> None:
    created = await writer.apply(request("First draft"))
    assert created is not None
    assert (created.type, created.title, created.version) == ("doc", "Summary", 1)
    assert texts(created.content) == ["First draft"]
    assert created.created_by == "workflow:wf-1"

    updated = await writer.apply(request("Second draft"))  # the run came back to the node
    assert updated is not None
    assert (updated.id, updated.version) == (created.id, 2)
    assert texts(updated.content) == ["Second draft"]
    assert [c.data.version for c in changes(store)] == [1, 2]


async def test_a_redelivered_request_is_applied_once(
    writer: RunArtifactWriter, store: MemoryStore
) -> None:
    event = request("Once")
    assert await writer.apply(event) is not None
    assert await writer.apply(event) is None
    assert len(changes(store)) == 1


async def test_append_adds_paragraphs_to_an_existing_document(
    writer: RunArtifactWriter, artifact_service: ArtifactService
) -> None:
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": []}]}
    existing, _ = await artifact_service.create("r1", "doc", "Log", doc, "u1")
    appended = await writer.apply(
        request("line one\nline two", artifact_id=existing.id, mode="append", title=None)
    )
    assert appended is not None
    assert appended.title == "Log"
    assert texts(appended.content) == ["line one", "line two"]
    assert len(appended.content["content"]) == 3


async def test_a_task_is_created_with_its_description_and_merged_later(
    writer: RunArtifactWriter,
) -> None:
    task = await writer.apply(request("Read chapter 2", artifact_type="task"))
    assert task is not None
    assert task.content == {"status": "todo", "description": "Read chapter 2"}
    moved = await writer.apply(request({"status": "done"}, artifact_type="task"))
    assert moved is not None
    assert moved.content == {"status": "done", "description": "Read chapter 2"}


async def test_unusable_requests_are_dropped_without_writing(
    writer: RunArtifactWriter, artifact_service: ArtifactService, store: MemoryStore
) -> None:
    other_room, _ = await artifact_service.create("r2", "doc", "Theirs", {}, "u1")
    published = len(store.published)
    assert await writer.apply(request("x", artifact_id=other_room.id)) is None
    assert await writer.apply(request("x", artifact_id="missing")) is None
    assert await writer.apply(request({"status": "nope"}, artifact_type="task")) is None
    assert len(store.published) == published
    assert (await artifact_service.get(other_room.id)).version == 1
