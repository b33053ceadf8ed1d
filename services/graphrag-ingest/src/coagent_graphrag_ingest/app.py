"""Composition root of the graphrag-ingest service."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from coagent_graphrag_ingest.adapters.postgres import PostgresUnitOfWork, outbox
from coagent_graphrag_ingest.community_build import CommunityBuilder
from coagent_graphrag_ingest.consumers import align_build_ack_wait, register_consumers
from coagent_graphrag_ingest.endpoints import router
from coagent_graphrag_ingest.model_choice import (
    adjudicator,
    extractor,
    reporter,
    resolution_policy,
    summariser,
)
from coagent_graphrag_ingest.pipeline import RoomIngestor
from coagent_graphrag_ingest.room_consumers import register_room_consumers
from coagent_graphrag_ingest.rooms import RoomProjection
from coagent_graphrag_ingest.runtime import GraphIngest
from coagent_graphrag_ingest.service import IngestService
from coagent_graphrag_ingest.settings import GraphragIngestSettings
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.factory import open_graph_store, open_vector_index
from coagent_kit.app import build_app
from coagent_kit.broker import create_broker
from coagent_kit.db import create_engine, session_factory
from coagent_kit.health import nats_check, postgres_check
from coagent_kit.lifespan import messaging_lifespan
from coagent_kit.outbox import OutboxRelay
from coagent_kit.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Wire Postgres, the outbox relay, JetStream and the graph store into the ingest API."""
    cfg = settings if isinstance(settings, GraphragIngestSettings) else GraphragIngestSettings()
    engine = create_engine(cfg.database_url)
    broker = create_broker(cfg.nats_url, cfg.service_name)
    relay = OutboxRelay(engine, outbox, broker)
    sessions = session_factory(engine)
    # Both stores connect on first use, so building the app never waits for them.
    storage = cfg.storage()
    graph_store, vector_index = open_graph_store(storage), open_vector_index(storage)
    unit_of_work = lambda: PostgresUnitOfWork(sessions, relay.wake)  # noqa: E731
    ingest = IngestService(unit_of_work)
    embedder = FeatureHashingEmbedder(cfg.vector_dimension)
    ingestor = RoomIngestor(
        unit_of_work,
        graph_store,
        vector_index,
        embedder,
        extractor(cfg),
        max_chars=cfg.chunk_chars,
        resolution=resolution_policy(cfg),
        adjudicator=adjudicator(cfg),
        summariser=summariser(cfg),
        summary_batch=cfg.summary_batch,
    )
    communities = CommunityBuilder(
        unit_of_work,
        graph_store,
        vector_index,
        embedder,
        reporter(cfg),
        max_cluster_size=cfg.community_max_cluster_size,
        report_chars=cfg.report_chars,
    )
    graph_ingest = GraphIngest(
        ingestor,
        unit_of_work,
        quiet=cfg.debounce_quiet_s,
        max_wait=cfg.debounce_max_wait_s,
        communities=communities,
        community_quiet=cfg.community_quiet_s,
        community_max_wait=cfg.community_max_wait_s,
        build_ack_wait_s=cfg.build_ack_wait_s,
    )
    register_consumers(broker, ingest, graph_ingest)
    rooms = RoomProjection(
        unit_of_work, graph_store, vector_index, graph_ingest.scheduler.exclusive
    )
    register_room_consumers(broker, rooms)

    # Builds are handed back while the broker can still take the hand-back; passes stop
    # before the stores they write to close.
    closers = [graph_ingest.close, graph_store.close, vector_index.close, engine.dispose]
    lifespan = messaging_lifespan(
        cfg,
        broker,
        relay=relay,
        on_start=[
            partial(align_build_ack_wait, cfg.nats_url, cfg.build_ack_wait_s),
            graph_ingest.resume,
        ],
        on_stop=[graph_ingest.stop_builds],
        closers=closers,
    )

    app = build_app(
        cfg,
        title="CoAgent graphrag-ingest",
        lifespan=lifespan,
        checks={
            "postgres": postgres_check(engine),
            "nats": nats_check(broker),
            "graph": graph_store.ping,
            "vectors": vector_index.ping,
        },
    )
    app.state.ingest = ingest
    app.state.graph_ingest = graph_ingest
    app.state.rooms = rooms
    # The graph and vector ports the extraction pipeline writes through.
    app.state.graph_store = graph_store
    app.state.vector_index = vector_index
    app.state.broker = broker
    app.include_router(router)
    return app
