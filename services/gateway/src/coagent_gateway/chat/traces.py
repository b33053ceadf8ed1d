"""Room frames made from other services' events: workflow traces and artifact changes.

The shapes are the reference client's (``workflow_trace``, ``artifact_update``,
``artifact_delete``); none carries ``sender``/``content``, so the client never renders them as chat.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from coagent_contracts.chat import ArtifactChangedV1, ArtifactDeletedV1
from coagent_contracts.envelope import Event
from coagent_contracts.events import parse_event
from coagent_contracts.workflow import (
    NodeFinishedV1,
    RunCancelledV1,
    RunCompletedV1,
    RunFailedV1,
    RunStartedV1,
)

#: Every subject whose events become room frames here.
TRACE_FILTERS = (
    RunStartedV1.FILTER,
    NodeFinishedV1.FILTER,
    RunCompletedV1.FILTER,
    RunFailedV1.FILTER,
    RunCancelledV1.FILTER,
    ArtifactChangedV1.FILTER,
    ArtifactDeletedV1.FILTER,
)


def _iso(event: Event) -> str:
    return event.occurred_at.isoformat().replace("+00:00", "Z")


def room_frame(raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """(room id, frame) for a workflow or artifact event about a room; None otherwise."""
    try:
        event = parse_event(raw)
    except (ValidationError, ValueError):
        return None
    if isinstance(event, ArtifactChangedV1 | ArtifactDeletedV1):
        return event.data.room_id, _artifact_frame(event)
    trace = _trace(event)
    room_id = getattr(getattr(event, "data", None), "room_id", None)
    if trace is None or not isinstance(room_id, str):
        return None
    node_id, kind, sub_status = trace
    run_id = getattr(event.data, "run_id", "")
    return room_id, {
        "type": "workflow_trace",
        "run_id": run_id,
        "room_id": room_id,
        "node_id": node_id,
        "event_type": kind,
        "sub_status": sub_status,
        "timestamp": _iso(event),
    }


def _trace(event: Event) -> tuple[str | None, str, str] | None:
    """(node id, event type, sub status) of a run event."""
    if isinstance(event, RunStartedV1):
        return None, "run_started", "running"
    if isinstance(event, NodeFinishedV1):
        return event.data.node_id, "node_finished", event.data.status
    if isinstance(event, RunCompletedV1):
        return None, "run_finished", "succeeded"
    if isinstance(event, RunFailedV1):
        return None, "run_finished", event.data.status
    if isinstance(event, RunCancelledV1):
        return None, "run_finished", "cancelled"
    return None


def _artifact_frame(event: ArtifactChangedV1 | ArtifactDeletedV1) -> dict[str, Any]:
    if isinstance(event, ArtifactDeletedV1):
        return {
            "type": "artifact_delete",
            "artifact_id": event.data.artifact_id,
            "room_id": event.data.room_id,
            "timestamp": _iso(event),
        }
    d = event.data
    artifact = {
        "id": d.artifact_id,
        "room_id": d.room_id,
        "type": d.artifact_type,
        "title": d.title,
        "content": d.content,
        "version": d.version,
        "last_modified_by": d.changed_by,
        "updated_at": _iso(event),
    }
    if d.version == 1:
        artifact |= {"created_by": d.changed_by, "created_at": _iso(event)}
    return {
        "type": "artifact_update",
        "room_id": d.room_id,
        "artifact": artifact,
        "timestamp": _iso(event),
    }
