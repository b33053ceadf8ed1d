"""Composition root of the graphrag-query service (read-only: no database, no outbox)."""

from __future__ import annotations

from fastapi import FastAPI
from redis.asyncio import Redis

from coagent_graphrag_query.adapters.redis import RedisBuildStatusStore
from coagent_graphrag_query.consumers import register_consumers
from coagent_graphrag_query.endpoints import router
from coagent_graphrag_query.service import QueryService
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_kit.app import build_app
from coagent_kit.broker import create_broker
from coagent_kit.health import nats_check, redis_check
from coagent_kit.lifespan import messaging_lifespan
from coagent_kit.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Wire JetStream, Redis (build-status projection) and the graph store into the query API."""
    cfg = settings if isinstance(settings, GraphragQuerySettings) else GraphragQuerySettings()
    broker = create_broker(cfg.nats_url, cfg.service_name)
    # Both clients connect lazily, so building the app never waits for a server.
    cache = Redis.from_url(cfg.redis_url)
    graph = Redis.from_url(cfg.graph_url)
    query = QueryService(RedisBuildStatusStore(cache))
    register_consumers(broker, query)

    lifespan = messaging_lifespan(cfg, broker, closers=[graph.aclose, cache.aclose])

    app = build_app(
        cfg,
        title="CoAgent graphrag-query",
        lifespan=lifespan,
        checks={
            "nats": nats_check(broker),
            "graph": redis_check(graph, module="graph"),
            # The build-status projection lives here; without it the service answers nothing.
            "redis": redis_check(cache),
        },
    )
    app.state.query = query
    app.state.broker = broker
    app.include_router(router)
    return app
