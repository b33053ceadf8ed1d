"""Ingest use cases: turning chat events into ingest jobs, listing a room's jobs."""

from __future__ import annotations

from coagent_contracts.chat import (
    ArtifactChangedV1,
    ArtifactDeletedV1,
    MessagePostedV1,
    MessagesErasedV1,
)
from coagent_contracts.envelope import Event
from coagent_contracts.graphrag import (
    IngestCompletedData,
    IngestCompletedV1,
    IngestRequestedData,
    IngestRequestedV1,
)
from coagent_graphrag_ingest.chunking import SourceRecord, artifact_text, speaker_label
from coagent_graphrag_ingest.domain import IngestJob, NewIngestJob, SourceKind
from coagent_graphrag_ingest.ports import UnitOfWorkFactory

PRODUCER = "graphrag-ingest"
MESSAGES_CONSUMER = "graphrag-ingest-messages"
ERASURES_CONSUMER = "graphrag-ingest-erasures"
ARTIFACTS_CONSUMER = "graphrag-ingest-artifacts"
ARTIFACT_DELETIONS_CONSUMER = "graphrag-ingest-artifact-deletions"
MAX_PAGE = 500


def ingest_requested(job: IngestJob, cause: Event) -> IngestRequestedV1:
    """The event asking for ``job`` to run, chained to the event that caused it."""
    body = job.body
    return IngestRequestedV1(
        producer=PRODUCER,
        # A chain of events keeps the correlation id of its first event.
        correlation_id=cause.correlation_id or cause.event_id,
        causation_id=cause.event_id,
        data=IngestRequestedData(
            room_id=body.room_id,
            job_id=job.job_id,
            source_kind=body.source_kind,
            source_id=body.source_id,
            source_event_id=body.source_event_id,
        ),
    )


def ingest_completed(
    job: IngestJob, *, entities: int = 0, relations: int = 0, chunks: int = 0, error: str | None
) -> IngestCompletedV1:
    """The outcome of ``job``; graphrag-query folds these into the room's build status."""
    return IngestCompletedV1(
        producer=PRODUCER,
        data=IngestCompletedData(
            room_id=job.body.room_id,
            job_id=job.job_id,
            status="failed" if error else "succeeded",
            entities=entities,
            relations=relations,
            chunks=chunks,
            error=error,
        ),
    )


class IngestService:
    """Records one ingest job per source event and announces it, exactly once."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    async def record_message(self, event: MessagePostedV1) -> IngestJob | None:
        """A job for the posted message; None when ``event`` was already recorded (redelivery)
        or its room is deleted."""
        data = event.data
        new_job = NewIngestJob(
            room_id=data.room_id,
            source_kind="message",
            source_id=data.message_id,
            source_event_id=event.event_id,
        )
        source = SourceRecord(
            source_kind="message",
            source_id=data.message_id,
            # The speaker is resolved now, from the event, so it never degrades to an id.
            speaker=speaker_label(data.sender_kind, data.sender_name, data.sender_id,
                                  data.agent_type),
            speaker_kind=data.sender_kind,
            content=data.content,
            seq=data.seq,
        )  # fmt: skip
        return await self._record(new_job, event, source)

    async def _record(
        self, new_job: NewIngestJob, cause: Event, source: SourceRecord
    ) -> IngestJob | None:
        async with self._uow() as uow:
            # A deleted room's partition is gone for good: its late messages are not knowledge.
            if await uow.rooms.is_deleted(new_job.room_id):
                return None
            # A tombstone may be applied before the post it erases is (two consumers), or the
            # stream may replay the post later: an erased message never becomes knowledge again.
            if new_job.source_kind == "message" and await uow.sources.was_erased(
                new_job.room_id, new_job.source_id
            ):
                return None
            job = await uow.jobs.add(new_job)
            if job is None:
                return None
            await uow.sources.put(new_job.room_id, source)
            await uow.publish(ingest_requested(job, cause))
            await uow.commit()
        return job

    async def forget_messages(self, event: MessagesErasedV1) -> int:
        """Drop what is kept about erased messages (tombstones are honoured, never replayed).

        Deleting is idempotent, so a redelivered tombstone is harmless; the ids are kept so a
        post delivered after its tombstone is ignored.
        """
        return await self._forget(
            event.data.room_id, "message", event.data.message_ids, remember=True
        )

    async def record_artifact(self, event: ArtifactChangedV1) -> IngestJob | None:
        """A job for the artifact's new revision; None on redelivery."""
        data = event.data
        source = SourceRecord(
            source_kind="artifact",
            source_id=data.artifact_id,
            speaker=" ".join(data.title.split())[:200] or "Untitled artifact",
            speaker_kind="artifact",
            content=artifact_text(data.title, data.content),
        )
        return await self._record(
            NewIngestJob(data.room_id, "artifact", data.artifact_id, event.event_id), event, source
        )

    async def forget_artifact(self, event: ArtifactDeletedV1) -> int:
        """A deleted artifact (soft or hard) is no longer knowledge of the room."""
        return await self._forget(event.data.room_id, "artifact", (event.data.artifact_id,))

    async def _forget(
        self,
        room_id: str,
        kind: SourceKind,
        source_ids: tuple[str, ...],
        *,
        remember: bool = False,
    ) -> int:
        # Artifacts are not remembered: a soft-deleted artifact may be restored and re-ingested.
        async with self._uow() as uow:
            forgotten = await uow.jobs.forget_sources(room_id, kind, source_ids)
            await uow.sources.forget(room_id, source_ids)
            if remember:
                await uow.sources.remember_erased(room_id, source_ids)
            await uow.commit()
        return forgotten

    async def jobs(self, room_id: str, limit: int = 50) -> list[IngestJob]:
        """The room's newest jobs, newest first."""
        async with self._uow() as uow:
            return await uow.jobs.list_for_room(room_id, min(max(limit, 1), MAX_PAGE))
