"""JetStream subscribers of the graphrag-ingest service."""

from __future__ import annotations

import nats
from faststream.nats import NatsBroker
from nats.js.errors import NotFoundError

from coagent_contracts.chat import (
    ArtifactChangedV1,
    ArtifactDeletedV1,
    MessagePostedV1,
    MessagesErasedV1,
)
from coagent_contracts.graphrag import GraphBuildRequestedV1
from coagent_contracts.streams import GRAPHRAG
from coagent_graphrag_ingest.builds import BUILD_MAX_DELIVER, BUILDS_CONSUMER
from coagent_graphrag_ingest.runtime import GraphIngest
from coagent_graphrag_ingest.service import (
    ARTIFACT_DELETIONS_CONSUMER,
    ARTIFACTS_CONSUMER,
    ERASURES_CONSUMER,
    MESSAGES_CONSUMER,
    IngestService,
)
from coagent_kit.broker import Retry, subscribe_event, subscribe_held_event
from coagent_kit.delivery import Delivery
from coagent_kit.logging import get_logger

log = get_logger(__name__)


def register_consumers(
    broker: NatsBroker, ingest: IngestService, graph: GraphIngest | None = None
) -> None:
    """Messages and artifact revisions become ingest jobs; erased or deleted sources drop theirs.

    With ``graph``, a recorded source schedules a pass of its room and a tombstone removes the
    sources from the graph and the vectors before the event is acknowledged.
    """

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
        if graph is not None:
            graph.changed(job.body.room_id)

    async def on_messages_erased(event: MessagesErasedV1) -> None:
        forgotten = await ingest.forget_messages(event)
        log.info(
            "ingest_jobs_forgotten",
            room_id=event.data.room_id,
            messages=len(event.data.message_ids),
            jobs=forgotten,
            reason=event.data.reason,
        )
        if graph is not None:
            await graph.forget(event.data.room_id, event.data.message_ids)

    async def on_artifact_changed(event: ArtifactChangedV1) -> None:
        job = await ingest.record_artifact(event)
        if job is not None:
            log.info("ingest_job_recorded", event_id=event.event_id, job_id=job.job_id)
            if graph is not None:
                graph.changed(job.body.room_id)

    async def on_artifact_deleted(event: ArtifactDeletedV1) -> None:
        await ingest.forget_artifact(event)
        if graph is not None:
            await graph.forget(event.data.room_id, (event.data.artifact_id,))

    async def on_build_requested(event: GraphBuildRequestedV1, delivery: Delivery) -> None:
        # The build runs in the background and holds the command until it ends (see builds):
        # a process that stops mid-build has it redelivered and run again elsewhere.
        assert graph is not None
        started = await graph.build(event.data.room_id, event.data.build_id, delivery)
        log.info(
            "graph_build_started" if started else "graph_build_already_taken",
            room_id=event.data.room_id,
            build_id=event.data.build_id,
            attempt=delivery.attempt,
        )

    subscribe_event(broker, MessagePostedV1, MESSAGES_CONSUMER, on_message_posted)
    if graph is not None:
        # Only a process that writes the graph may take build commands.
        subscribe_held_event(
            broker,
            GraphBuildRequestedV1,
            BUILDS_CONSUMER,
            on_build_requested,
            ack_wait_s=graph.build_ack_wait_s,
            retry=Retry(max_deliver=BUILD_MAX_DELIVER),
        )
    subscribe_event(broker, ArtifactChangedV1, ARTIFACTS_CONSUMER, on_artifact_changed)
    subscribe_event(broker, ArtifactDeletedV1, ARTIFACT_DELETIONS_CONSUMER, on_artifact_deleted)
    subscribe_event(broker, MessagesErasedV1, ERASURES_CONSUMER, on_messages_erased)


async def align_build_ack_wait(nats_url: str, ack_wait_s: float) -> None:
    """Give the builds consumer the configured ack wait if it was created under another one.

    An existing durable consumer is bound as it is, whatever config the subscriber names: after a
    change of ``GRAPHRAG_INGEST_BUILD_ACK_WAIT_S`` the server would keep the old ack wait, and
    heartbeats every third of the new one could fall outside it (a longer setting) or a dead
    process's builds wait longer than configured (a shorter one). The ack wait is editable in
    place; nothing else of the consumer changes.
    """
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            info = await js.consumer_info(GRAPHRAG.name, BUILDS_CONSUMER)
        except NotFoundError:  # created by the subscriber once the broker starts
            return
        if info.config.ack_wait == ack_wait_s:
            return
        await js.add_consumer(GRAPHRAG.name, info.config.evolve(ack_wait=ack_wait_s))
        log.info("build_ack_wait_changed", was_s=info.config.ack_wait, now_s=ack_wait_s)
    finally:
        await nc.close()
