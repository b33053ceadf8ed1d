"""Composition root of the graphrag-query service (read-only: no database, no outbox)."""

from __future__ import annotations

from fastapi import FastAPI
from redis.asyncio import Redis

from coagent_contracts.graphrag import GraphBuildRequestedV1
from coagent_graphrag_query.adapters.graph_builds import RedisGraphBuildStore
from coagent_graphrag_query.adapters.redis import RedisBuildStatusStore
from coagent_graphrag_query.composer import chat_model
from coagent_graphrag_query.consumers import register_consumers
from coagent_graphrag_query.course_endpoints import router as course_router
from coagent_graphrag_query.course_search import CourseSearch
from coagent_graphrag_query.endpoints import router
from coagent_graphrag_query.global_search import GlobalSearch
from coagent_graphrag_query.graph_builds import GraphBuilds
from coagent_graphrag_query.graph_endpoints import router as graph_router
from coagent_graphrag_query.graph_views import GraphViews
from coagent_graphrag_query.ports import BuildStatusStore
from coagent_graphrag_query.retrieval import Retriever
from coagent_graphrag_query.search import SearchService
from coagent_graphrag_query.service import QueryService
from coagent_graphrag_query.settings import GraphragQuerySettings
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.factory import open_graph_store, open_vector_index
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_kit.app import build_app
from coagent_kit.broker import create_broker, publish_event
from coagent_kit.health import nats_check, redis_check
from coagent_kit.lifespan import messaging_lifespan
from coagent_kit.settings import ServiceSettings


def install_graph_routes(
    app: FastAPI,
    graph: GraphStore,
    vectors: VectorIndex,
    build_status: BuildStatusStore,
    builds: GraphBuilds | None = None,
) -> None:
    """The public graph routes over these ports, answering with the composer the settings
    choose (:func:`~coagent_graphrag_query.composer.chat_model`; offline without a key).

    The query embedder must be the one ingestion wrote vectors with: same class, same dimension.
    """
    embedder = FeatureHashingEmbedder(vectors.dimension)
    model = chat_model(app.state.settings)
    retriever = Retriever(graph, vectors, embedder)
    app.state.graph_views = GraphViews(graph, build_status, builds)
    app.state.graph_builds = builds
    global_search = GlobalSearch(graph, vectors, embedder, model)
    app.state.search = SearchService(retriever, model, global_search)
    # A course question is the same search over several rooms (the gateway names them).
    app.state.course_search = CourseSearch(retriever, model, global_search)
    app.include_router(graph_router)
    app.include_router(course_router)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Wire JetStream, Redis (build-status projection) and the graph store into the query API."""
    cfg = settings if isinstance(settings, GraphragQuerySettings) else GraphragQuerySettings()
    broker = create_broker(cfg.nats_url, cfg.service_name)
    # Every client connects on first use, so building the app never waits for a server.
    cache = Redis.from_url(cfg.redis_url)
    storage = cfg.storage()
    graph_store, vector_index = open_graph_store(storage), open_vector_index(storage)
    build_status = RedisBuildStatusStore(cache)
    query = QueryService(build_status)

    async def publish(command: GraphBuildRequestedV1) -> None:
        await publish_event(broker, command)

    builds = GraphBuilds(RedisGraphBuildStore(cache), publish)
    register_consumers(broker, query, builds)

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
    app.state.graph_store = graph_store
    app.state.vector_index = vector_index
    app.state.broker = broker
    install_graph_routes(app, graph_store, vector_index, build_status, builds)
    app.include_router(router)
    return app
