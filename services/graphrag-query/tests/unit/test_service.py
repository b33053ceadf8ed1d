"""Query use cases on the in-memory adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from coagent_contracts.graphrag import IngestCompletedData, IngestCompletedV1
from coagent_graphrag_query.adapters.memory import MemoryBuildStatusStore
from coagent_graphrag_query.domain import BuildStatusNotFound, JobOutcome, fold
from coagent_graphrag_query.service import QueryService, job_outcome

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def completed(job_id: str = "j-1", room_id: str = "room-1", **data: object) -> IngestCompletedV1:
    fields: dict[str, object] = {"status": "succeeded", "entities": 3, "relations": 2, "chunks": 1}
    fields.update(data)
    return IngestCompletedV1(
        producer="graphrag-ingest",
        data=IngestCompletedData(room_id=room_id, job_id=job_id, **fields),  # type: ignore[arg-type]
    )


@pytest.fixture
def store() -> MemoryBuildStatusStore:
    return MemoryBuildStatusStore()


@pytest.fixture
def service(store: MemoryBuildStatusStore) -> QueryService:
    return QueryService(store)


async def test_no_build_status_before_the_first_job(service: QueryService) -> None:
    with pytest.raises(BuildStatusNotFound) as caught:
        await service.build_status("room-1")
    assert caught.value.status == 404
    assert caught.value.code == "build_status_not_found"


async def test_a_finished_job_sets_the_rooms_status(service: QueryService) -> None:
    event = completed()

    assert await service.record_ingest_completed(event) is True

    status = await service.build_status("room-1")
    assert (status.last_job_id, status.status, status.error) == ("j-1", "succeeded", None)
    assert (status.entities, status.relations, status.chunks) == (3, 2, 1)
    assert (status.jobs_succeeded, status.jobs_failed) == (1, 0)
    assert status.updated_at == event.occurred_at


async def test_a_redelivered_event_is_counted_once(service: QueryService) -> None:
    event = completed()
    await service.record_ingest_completed(event)

    assert await service.record_ingest_completed(event) is False

    status = await service.build_status("room-1")
    assert (status.entities, status.jobs_succeeded) == (3, 1)


async def test_other_rooms_are_not_affected(service: QueryService) -> None:
    await service.record_ingest_completed(completed(room_id="room-1"))
    with pytest.raises(BuildStatusNotFound):
        await service.build_status("room-2")


def test_the_outcome_is_read_from_the_event() -> None:
    event = completed(status="failed", error="extractor timed out", entities=0)
    assert job_outcome(event) == JobOutcome(
        room_id="room-1",
        job_id="j-1",
        status="failed",
        entities=0,
        relations=2,
        chunks=1,
        error="extractor timed out",
        ended_at=event.occurred_at,
    )


def outcome(job_id: str, ended_at: datetime, status: str = "succeeded") -> JobOutcome:
    error = None if status == "succeeded" else "boom"
    return JobOutcome("room-1", job_id, status, 1, 2, 3, error, ended_at)  # type: ignore[arg-type]


def test_fold_sums_counts_and_follows_the_latest_job() -> None:
    status = fold(fold(None, outcome("j-1", T0)), outcome("j-2", T0 + timedelta(seconds=1)))
    assert (status.last_job_id, status.updated_at) == ("j-2", T0 + timedelta(seconds=1))
    assert (status.entities, status.relations, status.chunks, status.jobs_succeeded) == (
        2,
        4,
        6,
        2,
    )


def test_fold_keeps_the_latest_job_when_an_older_outcome_arrives_late() -> None:
    late = fold(fold(None, outcome("j-2", T0)), outcome("j-1", T0 - timedelta(seconds=5), "failed"))
    assert (late.last_job_id, late.status, late.error, late.updated_at) == (
        "j-2",
        "succeeded",
        None,
        T0,
    )
    assert (late.jobs_succeeded, late.jobs_failed) == (1, 1)
