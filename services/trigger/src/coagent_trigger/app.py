"""Composition root of the trigger service."""

from __future__ import annotations

from fastapi import FastAPI

from coagent_kit.app import build_app
from coagent_kit.broker import create_broker
from coagent_kit.db import create_engine, session_factory
from coagent_kit.health import nats_check, postgres_check
from coagent_kit.lifespan import messaging_lifespan
from coagent_kit.outbox import OutboxRelay
from coagent_kit.settings import ServiceSettings
from coagent_trigger.adapters.gateway_access import GatewayAccess
from coagent_trigger.adapters.postgres import PostgresUnitOfWork, outbox
from coagent_trigger.adapters.postgres_errors import install_data_exception_handler
from coagent_trigger.consumers import register_consumers
from coagent_trigger.dry_run_chat import ChatHistory
from coagent_trigger.dry_run_endpoints import router as dry_run_router
from coagent_trigger.due_service import DueService
from coagent_trigger.endpoints import router
from coagent_trigger.hooks_endpoints import router as hooks_router
from coagent_trigger.hooks_service import WebhookService
from coagent_trigger.overlap_consumers import register_overlap_consumers
from coagent_trigger.overlap_service import OverlapService
from coagent_trigger.policy_endpoints import router as policy_router
from coagent_trigger.policy_service import PolicyService
from coagent_trigger.room_consumers import register_room_consumers
from coagent_trigger.room_projection import RoomProjection
from coagent_trigger.schedule_consumer import NatsScheduleCanceller, register_schedule_consumer
from coagent_trigger.secrets_box import SecretBox
from coagent_trigger.service import TriggerService
from coagent_trigger.settings import TriggerSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Wire Postgres, the outbox relay and JetStream into the trigger API."""
    cfg = settings if isinstance(settings, TriggerSettings) else TriggerSettings()
    engine = create_engine(cfg.database_url)
    broker = create_broker(cfg.nats_url, cfg.service_name)
    relay = OutboxRelay(engine, outbox, broker)
    sessions = session_factory(engine)
    trigger = TriggerService(lambda: PostgresUnitOfWork(sessions, relay.wake))
    access = GatewayAccess(
        cfg.gateway_url,
        cfg.internal_token_secret.get_secret_value(),
        ttl_s=cfg.access_cache_ttl_s,
    )
    policies = PolicyService(
        lambda: PostgresUnitOfWork(sessions, relay.wake),
        SecretBox(cfg.webhook_key_material()),
        canceller=NatsScheduleCanceller(broker),
        access=access,
    )
    register_consumers(broker, trigger, policies)
    rooms = RoomProjection(lambda: PostgresUnitOfWork(sessions, relay.wake))
    register_room_consumers(broker, rooms, access)
    register_schedule_consumer(
        broker, DueService(lambda: PostgresUnitOfWork(sessions, relay.wake), access=access)
    )
    box = SecretBox(cfg.webhook_key_material())
    hooks = WebhookService(lambda: PostgresUnitOfWork(sessions, relay.wake), box)
    overlap = OverlapService(lambda: PostgresUnitOfWork(sessions, relay.wake))
    register_overlap_consumers(broker, overlap)

    history = ChatHistory(cfg.chat_url, cfg.internal_token_secret.get_secret_value())
    lifespan = messaging_lifespan(
        cfg, broker, relay=relay, closers=[engine.dispose, history.aclose, access.aclose]
    )

    app = build_app(
        cfg,
        title="CoAgent trigger",
        lifespan=lifespan,
        checks={"postgres": postgres_check(engine), "nats": nats_check(broker)},
    )
    install_data_exception_handler(app)
    app.state.trigger = trigger
    app.state.policies = policies
    app.state.rooms = rooms
    app.state.access = access
    app.state.overlap = overlap
    app.state.hooks = hooks
    app.state.chat_history = history
    app.state.broker = broker
    app.include_router(router)
    app.include_router(policy_router)
    app.include_router(hooks_router)
    app.include_router(dry_run_router)
    return app
