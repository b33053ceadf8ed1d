"""Composition root of the workflow engine."""

from __future__ import annotations

from fastapi import FastAPI

from coagent_kit.app import build_app
from coagent_kit.broker import create_broker
from coagent_kit.db import create_engine, session_factory
from coagent_kit.health import nats_check, postgres_check
from coagent_kit.lifespan import messaging_lifespan
from coagent_kit.outbox import OutboxRelay
from coagent_kit.settings import ServiceSettings
from coagent_workflow_engine.adapters.postgres import outbox
from coagent_workflow_engine.adapters.postgres_agents import PostgresAgentsUnitOfWork
from coagent_workflow_engine.adapters.postgres_analytics import PostgresReportStore
from coagent_workflow_engine.adapters.postgres_engine import PostgresEngineUnitOfWork
from coagent_workflow_engine.agents.crypto import cipher_from_settings
from coagent_workflow_engine.agents.routes import build_agents_api
from coagent_workflow_engine.agents.routes import router as agents_router
from coagent_workflow_engine.analytics.endpoints import router as analytics_router
from coagent_workflow_engine.analytics.service import AnalyticsService
from coagent_workflow_engine.consumers import register_consumers
from coagent_workflow_engine.endpoints import router
from coagent_workflow_engine.graphs import install_graph_errors
from coagent_workflow_engine.internal import internal_router
from coagent_workflow_engine.runtime.agents_port import AgentsDirectory
from coagent_workflow_engine.runtime.deps import RuntimeDeps
from coagent_workflow_engine.runtime.host import BrokerLive, EngineRuntime
from coagent_workflow_engine.runtime.ssrf import EgressPolicy
from coagent_workflow_engine.service import WorkflowEngineService
from coagent_workflow_engine.settings import WorkflowEngineSettings
from coagent_workflow_engine.threads.endpoints import router as threads_router
from coagent_workflow_engine.threads.postgres import PostgresThreadStore
from coagent_workflow_engine.threads.service import ThreadService
from coagent_workflow_engine.workflows.endpoints import rooms_router as room_workflow_router
from coagent_workflow_engine.workflows.endpoints import router as workflows_router
from coagent_workflow_engine.workflows.service import WorkflowService


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Wire Postgres, the outbox relay and JetStream into the workflow-engine API."""
    cfg = settings if isinstance(settings, WorkflowEngineSettings) else WorkflowEngineSettings()
    engine = create_engine(cfg.database_url)
    broker = create_broker(cfg.nats_url, cfg.service_name)
    relay = OutboxRelay(engine, outbox, broker)
    sessions = session_factory(engine)

    def unit_of_work() -> PostgresEngineUnitOfWork:
        return PostgresEngineUnitOfWork(sessions, relay.wake)

    def agents_unit_of_work() -> PostgresAgentsUnitOfWork:
        return PostgresAgentsUnitOfWork(sessions, relay.wake)

    agents_api = build_agents_api(agents_unit_of_work, cipher_from_settings(cfg))
    deps = RuntimeDeps(
        uow=unit_of_work,
        agents=AgentsDirectory(agents_unit_of_work, agents_api.keys),
        live=BrokerLive(broker),
        egress=EgressPolicy.of(cfg.http_allow_networks, cfg.http_max_response_bytes),
    )
    runtime = EngineRuntime(deps, cfg, broker)
    workflow_engine = WorkflowEngineService(
        unit_of_work, on_queued=runtime.wake, on_cancel=runtime.cancel
    )
    workflows = WorkflowService(unit_of_work)
    register_consumers(broker, workflow_engine, workflows, cancel_local=runtime.cancel_local)
    analytics = AnalyticsService(PostgresReportStore(sessions), unit_of_work, agents_api)

    lifespan = messaging_lifespan(
        cfg,
        broker,
        relay=relay,
        on_start=[runtime.start],
        closers=[runtime.stop, analytics.aclose, engine.dispose],
    )

    app = build_app(
        cfg,
        title="CoAgent workflow engine",
        lifespan=lifespan,
        checks={"postgres": postgres_check(engine), "nats": nats_check(broker)},
    )
    app.state.workflow_engine = workflow_engine
    app.state.workflows = workflows
    app.state.runtime = runtime
    app.state.broker = broker
    install_graph_errors(app)
    app.include_router(workflows_router)
    app.include_router(room_workflow_router)
    app.include_router(router)
    app.include_router(internal_router)
    app.state.agents = agents_api
    app.include_router(agents_router)
    app.state.analytics = analytics
    app.include_router(analytics_router)
    app.state.threads = ThreadService(
        PostgresThreadStore(sessions), agents_unit_of_work, agents_api.keys
    )
    app.include_router(threads_router)
    return app
