"""JetStream subscribers of the graphrag-query service."""

from __future__ import annotations

from faststream.nats import NatsBroker

from coagent_contracts.graphrag import IngestCompletedV1
from coagent_graphrag_query.service import BUILD_STATUS_CONSUMER, QueryService
from coagent_kit.broker import subscribe_event
from coagent_kit.logging import get_logger

log = get_logger(__name__)


def register_consumers(broker: NatsBroker, query: QueryService) -> None:
    """Finished ingest jobs update their room's build status."""

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
