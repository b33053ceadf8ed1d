"""Composition root of the chat service."""

from __future__ import annotations

from fastapi import FastAPI

from coagent_chat.adapters.postgres import PostgresUnitOfWork, outbox
from coagent_chat.artifacts.endpoints import internal_router as artifacts_internal_router
from coagent_chat.artifacts.endpoints import router as artifacts_router
from coagent_chat.artifacts.run_writes import RunArtifactWriter
from coagent_chat.artifacts.service import ArtifactService
from coagent_chat.consumers import register_consumers
from coagent_chat.domain import RetentionPolicy
from coagent_chat.endpoints import router
from coagent_chat.forgetting import UserEraser
from coagent_chat.retention import RetentionService
from coagent_chat.service import ChatService
from coagent_chat.settings import ChatSettings
from coagent_kit.app import build_app
from coagent_kit.broker import create_broker
from coagent_kit.db import create_engine, session_factory
from coagent_kit.health import nats_check, postgres_check
from coagent_kit.lifespan import messaging_lifespan
from coagent_kit.outbox import OutboxRelay
from coagent_kit.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Wire Postgres, the outbox relay and JetStream into the chat API."""
    cfg = settings if isinstance(settings, ChatSettings) else ChatSettings()
    engine = create_engine(cfg.database_url)
    broker = create_broker(cfg.nats_url, cfg.service_name)
    relay = OutboxRelay(engine, outbox, broker)
    sessions = session_factory(engine)
    chat = ChatService(lambda: PostgresUnitOfWork(sessions, relay.wake))
    run_writes = RunArtifactWriter(lambda: PostgresUnitOfWork(sessions, relay.wake))
    eraser = UserEraser(lambda: PostgresUnitOfWork(sessions, relay.wake))
    register_consumers(broker, chat, run_writes, eraser)
    retention = RetentionService(
        lambda: PostgresUnitOfWork(sessions, relay.wake),
        RetentionPolicy(cfg.retention_max_age_days, cfg.retention_max_messages),
        interval_s=cfg.retention_interval_s,
        batch_size=cfg.retention_batch_size,
    )

    lifespan = messaging_lifespan(
        cfg,
        broker,
        relay=relay,
        on_start=[retention.start],
        closers=[retention.stop, engine.dispose],
    )

    app = build_app(
        cfg,
        title="CoAgent chat",
        lifespan=lifespan,
        checks={"postgres": postgres_check(engine), "nats": nats_check(broker)},
    )
    app.state.chat = chat
    app.state.retention = retention
    app.state.broker = broker
    app.include_router(router)
    app.state.artifacts = ArtifactService(lambda: PostgresUnitOfWork(sessions, relay.wake))
    app.include_router(artifacts_router)
    app.include_router(artifacts_internal_router)
    return app
