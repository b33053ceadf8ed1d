"""Realistic sample instances of every event class, shared by the contract tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from coagent_contracts import (
    ALL_EVENT_TYPES,
    AgentMessageProducedData,
    AgentMessageProducedV1,
    ArtifactChangedData,
    ArtifactChangedV1,
    ArtifactDeletedData,
    ArtifactDeletedV1,
    ArtifactWriteRequestedData,
    ArtifactWriteRequestedV1,
    Event,
    GraphBuildProgressData,
    GraphBuildProgressV1,
    GraphBuildRequestedData,
    GraphBuildRequestedV1,
    IngestCompletedData,
    IngestCompletedV1,
    IngestRequestedData,
    IngestRequestedV1,
    MembershipChangedData,
    MembershipChangedV1,
    MessagePostedData,
    MessagePostedV1,
    MessagesErasedData,
    MessagesErasedV1,
    NodeFinishedData,
    NodeFinishedV1,
    RoomActivityRecordedData,
    RoomActivityRecordedV1,
    RoomChangedData,
    RoomChangedV1,
    RoomWorkflowAttachedData,
    RoomWorkflowAttachedV1,
    RunCancelledData,
    RunCancelledV1,
    RunCompletedData,
    RunCompletedV1,
    RunFailedData,
    RunFailedV1,
    RunQueuedData,
    RunQueuedV1,
    RunStartedData,
    RunStartedV1,
    TriggerFiredData,
    TriggerFiredV1,
    TriggerRunCancelRequestedData,
    TriggerRunCancelRequestedV1,
    UserCreatedData,
    UserCreatedV1,
    UserForgottenData,
    UserForgottenV1,
    firing_key,
)

USER_ID = "0190b1c2-7a3e-7c4d-8e5f-0a1b2c3d4e5f"
ROOM_ID = "0190b1c2-7a3e-7c4d-8e5f-1a1b2c3d4e5f"
RUN_ID = "0190b1c2-7a3e-7c4d-8e5f-2a1b2c3d4e5f"
POLICY_ID = "0190b1c2-7a3e-7c4d-8e5f-3a1b2c3d4e5f"
WORKFLOW_ID = "0190b1c2-7a3e-7c4d-8e5f-4a1b2c3d4e5f"
MESSAGE_ID = "0190b1c2-7a3e-7c4d-8e5f-5a1b2c3d4e5f"
AGENT_ID = "0190b1c2-7a3e-7c4d-8e5f-6a1b2c3d4e5f"
SOURCE_EVENT_ID = "0190b1c2-7a3e-7c4d-8e5f-7a1b2c3d4e5f"
T0 = datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=UTC)

_RUN = {"run_id": RUN_ID, "workflow_id": WORKFLOW_ID, "workflow_version": 3, "room_id": ROOM_ID}
_FIRED = {"firing_key": firing_key(POLICY_ID, scheduled_for=T0), "policy_id": POLICY_ID}


def _envelope(producer: str) -> dict[str, object]:
    return {
        "producer": producer,
        "occurred_at": T0,
        "correlation_id": "req-7f3a",
        "causation_id": SOURCE_EVENT_ID,
    }


SAMPLES: dict[type[Event], Callable[[], Event]] = {
    UserCreatedV1: lambda: UserCreatedV1(
        **_envelope("gateway"),
        data=UserCreatedData(
            user_id=USER_ID, email="ada@example.org", username="ada", platform_role="teacher"
        ),
    ),
    UserForgottenV1: lambda: UserForgottenV1(
        **_envelope("gateway"),
        data=UserForgottenData(user_id=USER_ID, forgotten_by=AGENT_ID),
    ),
    MembershipChangedV1: lambda: MembershipChangedV1(
        **_envelope("gateway"),
        data=MembershipChangedData(
            room_id=ROOM_ID, user_id=USER_ID, change="added", role="member", course_id="c-101"
        ),
    ),
    MessagesErasedV1: lambda: MessagesErasedV1(
        **_envelope("chat"),
        data=MessagesErasedData(
            room_id=ROOM_ID, message_ids=(MESSAGE_ID,), seqs=(42,), reason="forgotten"
        ),
    ),
    MessagePostedV1: lambda: MessagePostedV1(
        **_envelope("chat"),
        data=MessagePostedData(
            message_id=MESSAGE_ID,
            room_id=ROOM_ID,
            seq=42,
            sender_id=USER_ID,
            sender_kind="human",
            sender_name="Ada",
            content="@planner can you summarise the board?",
            thread_id=None,
            mentions=("planner",),
            created_at=T0,
        ),
    ),
    ArtifactChangedV1: lambda: ArtifactChangedV1(
        **_envelope("chat"),
        data=ArtifactChangedData(
            artifact_id="art-1",
            room_id=ROOM_ID,
            artifact_type="task",
            title="Write the report",
            content={"status": "todo", "assignees": [USER_ID], "due": "2025-03-20"},
            version=2,
            changed_by=USER_ID,
        ),
    ),
    ArtifactDeletedV1: lambda: ArtifactDeletedV1(
        **_envelope("chat"),
        data=ArtifactDeletedData(artifact_id="art-1", room_id=ROOM_ID, deleted_by=USER_ID),
    ),
    RoomActivityRecordedV1: lambda: RoomActivityRecordedV1(
        **_envelope("chat"),
        data=RoomActivityRecordedData(
            room_id=ROOM_ID,
            last_message_at=T0,
            last_human_message_at=T0 - timedelta(minutes=3),
            message_count=42,
        ),
    ),
    TriggerFiredV1: lambda: TriggerFiredV1(
        **_envelope("trigger"),
        data=TriggerFiredData(
            policy_id=POLICY_ID,
            workflow_id=WORKFLOW_ID,
            room_id=ROOM_ID,
            event_type="silence",
            firing_key=firing_key(POLICY_ID, scheduled_for=T0, room_id=ROOM_ID),
            scheduled_for=T0,
            payload={"threshold_mins": 5, "last_human_message_at": "2025-03-14T09:21:53Z"},
        ),
    ),
    TriggerRunCancelRequestedV1: lambda: TriggerRunCancelRequestedV1(
        **_envelope("trigger"),
        data=TriggerRunCancelRequestedData(
            policy_id=POLICY_ID,
            run_id=RUN_ID,
            room_id=ROOM_ID,
            firing_key=firing_key(POLICY_ID, source_event_id="evt-2"),
        ),
    ),
    RunQueuedV1: lambda: RunQueuedV1(
        **_envelope("workflow-engine"), data=RunQueuedData(**_RUN, **_FIRED)
    ),
    RunStartedV1: lambda: RunStartedV1(
        **_envelope("workflow-engine"), data=RunStartedData(**_RUN, **_FIRED)
    ),
    NodeFinishedV1: lambda: NodeFinishedV1(
        **_envelope("workflow-engine"),
        data=NodeFinishedData(
            **_RUN,
            node_id="summarise",
            node_type="agent",
            status="succeeded",
            started_at=T0,
            finished_at=T0 + timedelta(seconds=2),
            tokens=812,
            cost=0.0013,
        ),
    ),
    RunCompletedV1: lambda: RunCompletedV1(
        **_envelope("workflow-engine"),
        data=RunCompletedData(**_RUN, **_FIRED, output={"summary": "Two tasks are overdue."}),
    ),
    RunFailedV1: lambda: RunFailedV1(
        **_envelope("workflow-engine"),
        data=RunFailedData(
            **_RUN,
            **_FIRED,
            error_code="wall_clock_exceeded",
            error="ran 300 s",
            status="timed_out",
        ),
    ),
    RunCancelledV1: lambda: RunCancelledV1(
        **_envelope("workflow-engine"),
        data=RunCancelledData(**_RUN, reason="superseded", cancelled_by=USER_ID),
    ),
    ArtifactWriteRequestedV1: lambda: ArtifactWriteRequestedV1(
        **_envelope("workflow-engine"),
        data=ArtifactWriteRequestedData(
            **_RUN,
            node_id="summarise",
            write_key=f"{RUN_ID}.summarise",
            artifact_type="doc",
            title="Summary",
            content="The group agreed on three goals.",
            written_by="workflow:wf-1",
        ),
    ),
    AgentMessageProducedV1: lambda: AgentMessageProducedV1(
        **_envelope("workflow-engine"),
        data=AgentMessageProducedData(
            **_RUN,
            agent_id=AGENT_ID,
            agent_name="planner",
            content="Two tasks are overdue: the report and the slides.",
            reply_to_message_id=MESSAGE_ID,
            metadata={"provider": "offline", "model": "offline-echo"},
        ),
    ),
    RoomChangedV1: lambda: RoomChangedV1(
        **_envelope("gateway"),
        data=RoomChangedData(
            room_id=ROOM_ID,
            course_id="course-1",
            attached_workflow_id=WORKFLOW_ID,
            attached_by=USER_ID,
        ),
    ),
    RoomWorkflowAttachedV1: lambda: RoomWorkflowAttachedV1(
        **_envelope("workflow-engine"),
        data=RoomWorkflowAttachedData(
            room_id=ROOM_ID, workflow_id=WORKFLOW_ID, attached_by=USER_ID
        ),
    ),
    IngestRequestedV1: lambda: IngestRequestedV1(
        **_envelope("graphrag-ingest"),
        data=IngestRequestedData(
            room_id=ROOM_ID,
            job_id="job-1",
            source_kind="message",
            source_id=MESSAGE_ID,
            source_event_id=SOURCE_EVENT_ID,
        ),
    ),
    IngestCompletedV1: lambda: IngestCompletedV1(
        **_envelope("graphrag-ingest"),
        data=IngestCompletedData(
            room_id=ROOM_ID, job_id="job-1", status="succeeded", entities=7, relations=5, chunks=3
        ),
    ),
    GraphBuildRequestedV1: lambda: GraphBuildRequestedV1(
        **_envelope("graphrag-query"),
        data=GraphBuildRequestedData(room_id=ROOM_ID, build_id="build-1", requested_by=USER_ID),
    ),
    GraphBuildProgressV1: lambda: GraphBuildProgressV1(
        **_envelope("graphrag-ingest"),
        data=GraphBuildProgressData(
            room_id=ROOM_ID,
            build_id="build-1",
            step=3,
            stage="reports",
            status="running",
            done=2,
            total=5,
            communities=5,
        ),
    ),
}


def _tag(cls: type[Event]) -> str:
    return cls.TAG


@pytest.fixture(params=ALL_EVENT_TYPES, ids=_tag)
def event_cls(request: pytest.FixtureRequest) -> type[Event]:
    """Each event class of the fleet in turn."""
    cls: type[Event] = request.param
    return cls


@pytest.fixture
def sample(event_cls: type[Event]) -> Event:
    """A realistic instance of ``event_cls`` (fails if a class has no sample)."""
    return SAMPLES[event_cls]()


@pytest.fixture
def all_samples() -> list[Event]:
    """One realistic instance of every event class."""
    return [SAMPLES[cls]() for cls in ALL_EVENT_TYPES]
