"""Composition root of the graphrag-query service (read-only: no database, no outbox)."""

from __future__ import annotations

from fastapi import FastAPI
from redis.asyncio import Redis

from coagent_graphrag_query.adapters.redis import RedisBuildStatusStore
from coagent_graphrag_query.consumers import register_consumers
from coagent_graphrag_query.endpoints import router
from coagent_graphrag_query.service import QueryService
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_graphstore.factory import open_graph_store, open_vector_index
from coagent_kit.app import build_app
from coagent_kit.broker import create_broker
from coagent_kit.health import nats_check, redis_check
from coagent_kit.lifespan import messaging_lifespan
from coagent_kit.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Wire JetStream, Redis (build-status projection) and the graph store into the query API."""
    cfg = settings if isinstance(settings, GraphragQuerySettings) else GraphragQuerySettings()
    broker = create_broker(cfg.nats_url, cfg.service_name)
    # Every client connects on first use, so building the app never waits for a server.
    cache = Redis.from_url(cfg.redis_url)
    storage = cfg.storage()
    graph_store, vector_index = open_graph_store(storage), open_vector_index(storage)
    query = QueryService(RedisBuildStatusStore(cache))
    register_consumers(broker, query)

    closers = [graph_store.close, vector_index.close, cache.aclose]
    lifespan = messaging_lifespan(cfg, broker, closers=closers)

    app = build_app(
        cfg,
        title="CoAgent graphrag-query",
        lifespan=lifespan,
        checks={
            "nats": nats_check(broker),
            "graph": graph_store.ping,
            "vectors": vector_index.ping,
            # The build-status projection lives here; without it the service answers nothing.
            "redis": redis_check(cache),
        },
    )
    app.state.query = query
    # The read side of the graph and vector ports that search will use.
    app.state.graph_store = graph_store
    app.state.vector_index = vector_index
    app.state.broker = broker
    app.include_router(router)
    return app
