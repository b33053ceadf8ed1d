"""JetStream subscribers of the graphrag-query service."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_contracts.graphrag import GraphBuildProgressV1, IngestCompletedV1
from coagent_graphrag_query.graph_builds import BUILDS_CONSUMER, GraphBuilds
from coagent_graphrag_query.service import BUILD_STATUS_CONSUMER, QueryService
from coagent_kit.broker import subscribe_event
from coagent_kit.logging import get_logger

log = get_logger(__name__)


def register_consumers(
    broker: NatsBroker, query: QueryService, builds: GraphBuilds | None = None
) -> None:
    """Finished ingest jobs update their room's build status; build progress its current build."""

    async def on_ingest_completed(event: IngestCompletedV1) -> None:
        applied = await query.record_ingest_completed(event)
        log.info(
            "build_status_updated" if applied else "build_status_duplicate",
            event_id=event.event_id,
            room_id=event.data.room_id,
            job_id=event.data.job_id,
            status=event.data.status,
        )

    subscribe_event(broker, IngestCompletedV1, BUILD_STATUS_CONSUMER, on_ingest_completed)

    async def on_build_progressed(event: GraphBuildProgressV1) -> None:
        assert builds is not None
        applied = await builds.record(event)
        log.info(
            "graph_build_progressed" if applied else "graph_build_progress_ignored",
            room_id=event.data.room_id,
            build_id=event.data.build_id,
            stage=event.data.stage,
            status=event.data.status,
        )

    if builds is not None:
        subscribe_event(broker, GraphBuildProgressV1, BUILDS_CONSUMER, on_build_progressed)
