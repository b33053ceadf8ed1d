"""JetStream subscribers of the graphrag-ingest service."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_contracts.chat import MessagePostedV1, MessagesErasedV1
from coagent_graphrag_ingest.service import ERASURES_CONSUMER, MESSAGES_CONSUMER, IngestService
from coagent_kit.broker import subscribe_event
from coagent_kit.logging import get_logger

log = get_logger(__name__)


def register_consumers(broker: NatsBroker, ingest: IngestService) -> None:
    """Every message posted in a room becomes an ingest job; erased messages drop theirs."""

    async def on_message_posted(event: MessagePostedV1) -> None:
        job = await ingest.record_message(event)
        if job is None:
            log.debug("ingest_job_duplicate", event_id=event.event_id, room_id=event.data.room_id)
            return
        # Logged inside the consumer span, so the line carries the trace id of the chat request.
        log.info(
            "ingest_job_recorded",
            event_id=event.event_id,
            room_id=job.body.room_id,
            job_id=job.job_id,
        )

    async def on_messages_erased(event: MessagesErasedV1) -> None:
        forgotten = await ingest.forget_messages(event)
        log.info(
            "ingest_jobs_forgotten",
            room_id=event.data.room_id,
            messages=len(event.data.message_ids),
            jobs=forgotten,
            reason=event.data.reason,
        )

    subscribe_event(broker, MessagePostedV1, MESSAGES_CONSUMER, on_message_posted)
    subscribe_event(broker, MessagesErasedV1, ERASURES_CONSUMER, on_messages_erased)
