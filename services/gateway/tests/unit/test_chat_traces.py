"""Workflow and artifact events become the reference client's room frames."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from coagent_contracts.chat import (
    ArtifactChangedData,
    ArtifactChangedV1,
    ArtifactDeletedData,
    ArtifactDeletedV1,
    MessagePostedData,
    MessagePostedV1,
)
from coagent_contracts.envelope import Event
from coagent_contracts.workflow import (
    NodeFinishedData,
    NodeFinishedV1,
    RunFailedData,
    RunFailedV1,
    RunStartedData,
    RunStartedV1,
)
from coagent_gateway.chat.traces import room_frame

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RUN = {"run_id": "run1", "workflow_id": "wf1", "workflow_version": 1, "room_id": "r1"}


def _frame(event: Event) -> tuple[str, dict[str, object]] | None:
    return room_frame(event.model_dump_json().encode())


def test_node_finished_is_a_workflow_trace() -> None:
    event = NodeFinishedV1(
        producer="workflow-engine",
        occurred_at=NOW,
        data=NodeFinishedData(
            **RUN,
            node_id="n1",
            node_type="agent",
            status="succeeded",
            started_at=NOW,
            finished_at=NOW,
        ),
    )
    assert _frame(event) == (
        "r1",
        {
            "type": "workflow_trace",
            "run_id": "run1",
            "room_id": "r1",
            "node_id": "n1",
            "event_type": "node_finished",
            "sub_status": "succeeded",
            "timestamp": "2026-11-24T12:00:00Z",
        },
    )


@pytest.mark.parametrize(
    ("event", "kind", "status"),
    [
        (RunStartedV1(producer="w", data=RunStartedData(**RUN)), "run_started", "running"),
        (
            RunFailedV1(
                producer="w",
                data=RunFailedData(**RUN, error_code="timeout", error="slow", status="timed_out"),
            ),
            "run_finished",
            "timed_out",
        ),
    ],
)
def test_run_lifecycle_traces(event: Event, kind: str, status: str) -> None:
    result = _frame(event)
    assert result is not None
    assert result[1]["event_type"] == kind
    assert result[1]["sub_status"] == status
    assert result[1]["node_id"] is None


def test_runs_outside_a_room_make_no_frame() -> None:
    event = RunStartedV1(producer="w", data=RunStartedData(**{**RUN, "room_id": None}))
    assert _frame(event) is None


def test_artifact_changes_carry_the_whole_artifact() -> None:
    event = ArtifactChangedV1(
        producer="chat",
        occurred_at=NOW,
        data=ArtifactChangedData(
            artifact_id="a1",
            room_id="r1",
            artifact_type="task",
            title="Write",
            content={"status": "todo"},
            version=1,
            changed_by="u1",
        ),
    )
    room, frame = _frame(event) or ("", {})
    assert room == "r1"
    assert frame["type"] == "artifact_update"
    assert frame["artifact"] == {
        "id": "a1",
        "room_id": "r1",
        "type": "task",
        "title": "Write",
        "content": {"status": "todo"},
        "version": 1,
        "parent_artifact_id": None,
        "last_modified_by": "u1",
        "updated_at": "2026-11-24T12:00:00Z",
        "created_by": "u1",
        "created_at": "2026-11-24T12:00:00Z",
    }
    assert "sender" not in frame
    assert "content" not in frame


def test_artifact_deletion() -> None:
    event = ArtifactDeletedV1(
        producer="chat",
        occurred_at=NOW,
        data=ArtifactDeletedData(artifact_id="a1", room_id="r1", deleted_by="u1"),
    )
    assert _frame(event) == (
        "r1",
        {
            "type": "artifact_delete",
            "artifact_id": "a1",
            "room_id": "r1",
            "hard": False,
            "timestamp": "2026-11-24T12:00:00Z",
        },
    )


def test_other_events_and_garbage_are_ignored() -> None:
    message = MessagePostedV1(
        producer="chat",
        data=MessagePostedData(
            message_id="m", room_id="r1", seq=1, sender_kind="human", content="x", created_at=NOW
        ),
    )
    assert _frame(message) is None
    assert room_frame(b"not json") is None
