"""Composition root of the gateway."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coagent_gateway.adapters.admin_postgres import PostgresTableBrowser
from coagent_gateway.adapters.auth_postgres import (
    PostgresAccountStore,
    PostgresAuditLog,
    PostgresRefreshTokenStore,
)
from coagent_gateway.adapters.dead_letters_nats import NatsDeadLetters
from coagent_gateway.adapters.fleet import HttpFleetProbe
from coagent_gateway.adapters.media import LocalMediaStore
from coagent_gateway.adapters.membership_postgres import (
    PostgresCourseStore,
    PostgresRoomStore,
    PostgresUserDirectory,
)
from coagent_gateway.adapters.organizations_postgres import PostgresOrganizationStore
from coagent_gateway.adapters.postgres import PostgresUserStore, outbox
from coagent_gateway.adapters.postgres_errors import install_data_exception_handler
from coagent_gateway.adapters.redis import RedisLoginThrottle, RedisSessionRevocations
from coagent_gateway.adapters.security import Argon2PasswordHasher
from coagent_gateway.adapters.services_http import ServiceClient
from coagent_gateway.adapters.users_postgres import (
    PostgresApiKeyStore,
    PostgresAuditReader,
)
from coagent_gateway.adapters.users_postgres import (
    PostgresUserDirectory as PostgresUsers,
)
from coagent_gateway.admin.dead_letters import router as dead_letters_router
from coagent_gateway.admin.endpoints import router as admin_router
from coagent_gateway.auth.endpoints import router as auth_router
from coagent_gateway.auth.service import AuthPorts, AuthService
from coagent_gateway.auth.tokens import AccessTokenCodec
from coagent_gateway.chat.endpoints import router as chat_router
from coagent_gateway.chat.live import RoomHub
from coagent_gateway.chat.multiplex import router as multiplex_router
from coagent_gateway.chat.presence import RedisPresenceStore, RedisTypingLimiter
from coagent_gateway.chat.rooms import MembershipRoomGuard
from coagent_gateway.chat.runs import EngineRunDirectory, JetStreamRunEvents, RunAccess, RunTopics
from coagent_gateway.chat.service import ChatGateway
from coagent_gateway.endpoints import router
from coagent_gateway.openapi.public import install_public_openapi
from coagent_gateway.ports import UserStore
from coagent_gateway.rooms.consumers import register_room_consumers
from coagent_gateway.rooms.internal import router as internal_router
from coagent_gateway.rooms.wiring import MembershipStores, install_membership
from coagent_gateway.routing.a2a import router as a2a_router
from coagent_gateway.routing.analytics import router as analytics_router
from coagent_gateway.routing.course_graph import router as course_graph_router
from coagent_gateway.routing.endpoints import owned_routes_router
from coagent_gateway.service import GatewayService, ensure_super_admin
from coagent_gateway.settings import GatewaySettings
from coagent_gateway.users.service import UserPorts
from coagent_gateway.users.wiring import install_users
from coagent_gateway.web import web_router
from coagent_kit.app import build_app
from coagent_kit.broker import create_broker
from coagent_kit.db import create_engine, session_factory
from coagent_kit.health import nats_check, postgres_check, redis_check
from coagent_kit.lifespan import messaging_lifespan
from coagent_kit.logging import get_logger
from coagent_kit.outbox import OutboxRelay
from coagent_kit.settings import ServiceSettings

log = get_logger(__name__)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Wire Postgres, Redis, JetStream, the internal services and every feature."""
    cfg = settings if isinstance(settings, GatewaySettings) else GatewaySettings()
    engine = create_engine(cfg.database_url)
    broker = create_broker(cfg.nats_url, cfg.service_name)
    redis = Redis.from_url(cfg.redis_url)
    http = httpx.AsyncClient()
    services = ServiceClient(cfg.service_urls(), cfg.internal_token_secret.get_secret_value())
    hub = RoomHub(cfg.nats_url, RedisPresenceStore(redis), RedisTypingLimiter(redis))
    run_events = JetStreamRunEvents(cfg.nats_url)
    dead_letters = NatsDeadLetters(cfg.nats_url)
    relay = OutboxRelay(engine, outbox, broker)
    sessions = session_factory(engine)
    users = PostgresUserStore(sessions, relay.wake)

    async def announce_admin() -> None:
        generated = await bootstrap_admin(users, cfg)
        if generated:
            # Printed once, at creation: it is stored only as a hash.
            log.warning("super_admin_password_generated", password=generated)

    app = build_app(
        cfg,
        title="CoAgent",
        lifespan=messaging_lifespan(
            cfg,
            broker,
            relay=relay,
            on_start=[announce_admin, hub.start, run_events.start, dead_letters.start],
            closers=[
                hub.stop,
                run_events.stop,
                dead_letters.stop,
                services.aclose,
                http.aclose,
                redis.aclose,
                engine.dispose,
            ],
        ),
        checks={
            "postgres": postgres_check(engine),
            "nats": nats_check(broker),
            "redis": redis_check(redis),
        },
        openapi_url="/api/v1/openapi.json",
    )
    app.state.gateway = GatewayService(
        HttpFleetProbe(http, cfg.service_urls()), app.state.readiness
    )
    install_data_exception_handler(app)
    app.include_router(router)
    _install_auth(app, cfg, sessions, redis)
    _install_features(app, cfg, sessions, relay)
    register_room_consumers(broker, app.state.rooms)
    app.state.broker = broker  # its consumers appear in the generated event catalogue
    app.include_router(internal_router)  # service tokens only (see rooms/internal.py)
    app.state.room_hub = hub
    app.state.chat = ChatGateway(services, MembershipRoomGuard(app.state.rooms))
    app.state.run_topics = RunTopics(
        RunAccess(EngineRunDirectory(services), app.state.room_access), run_events
    )
    app.include_router(chat_router)
    app.include_router(multiplex_router)
    app.state.services = services
    app.state.table_browser = PostgresTableBrowser(sessions)
    app.include_router(admin_router)
    app.state.dead_letters = dead_letters
    app.include_router(dead_letters_router)
    app.include_router(analytics_router)  # before the owned families
    app.include_router(course_graph_router)
    app.include_router(owned_routes_router())
    app.include_router(a2a_router)  # no user session: external agents use their own token
    install_public_openapi(app, services)  # the services' operations in the gateway's document
    if cfg.web_dir:
        app.include_router(web_router(Path(cfg.web_dir)))  # last: it catches every other GET
    return app


def _install_auth(
    app: FastAPI, cfg: GatewaySettings, sessions: async_sessionmaker[AsyncSession], redis: Redis
) -> None:
    codec = AccessTokenCodec(cfg.jwt_secret.get_secret_value())
    app.state.auth_codec = codec
    app.state.auth = AuthService(
        AuthPorts(
            accounts=PostgresAccountStore(sessions),
            refresh_tokens=PostgresRefreshTokenStore(sessions),
            revocations=RedisSessionRevocations(redis),
            throttle=RedisLoginThrottle(redis),
            audit=PostgresAuditLog(sessions),
            hasher=Argon2PasswordHasher(),
        ),
        codec,
    )
    app.include_router(auth_router)


def _install_features(
    app: FastAPI,
    cfg: GatewaySettings,
    sessions: async_sessionmaker[AsyncSession],
    relay: OutboxRelay,
) -> None:
    audit = PostgresAuditLog(sessions)
    install_membership(
        app,
        MembershipStores(
            users=PostgresUserDirectory(sessions),
            courses=PostgresCourseStore(sessions, relay.wake),
            rooms=PostgresRoomStore(sessions, relay.wake),
            organizations=PostgresOrganizationStore(sessions),
            audit=audit,
        ),
    )
    install_users(
        app,
        UserPorts(
            directory=PostgresUsers(sessions, relay.wake),
            hasher=Argon2PasswordHasher(),
            audit=audit,
            audit_reader=PostgresAuditReader(sessions),
            avatars=LocalMediaStore(cfg.media_root()),
            api_keys=PostgresApiKeyStore(sessions),
            sessions=app.state.auth,
        ),
        PostgresAccountStore(sessions),
    )


async def bootstrap_admin(users: UserStore, cfg: GatewaySettings) -> str | None:
    """Ensure the first super admin exists; returns its password only if it was just generated."""
    password = cfg.admin_password.get_secret_value() if cfg.admin_password else None
    outcome = await ensure_super_admin(
        users, Argon2PasswordHasher(), cfg.admin_email, cfg.admin_username, password
    )
    if outcome.created:
        log.info("super_admin_created", email=outcome.user.email, username=outcome.user.username)
    return outcome.generated_password


async def bootstrap_admin_standalone(cfg: GatewaySettings) -> tuple[str, str | None]:
    """First-start bootstrap outside the server (``coagent up``): (username, generated password).

    The ``user created`` event waits in the outbox until the gateway's relay starts.
    """
    engine = create_engine(cfg.database_url)
    try:
        users = PostgresUserStore(session_factory(engine), on_commit=lambda: None)
        generated = await bootstrap_admin(users, cfg)
        admin = await users.find_super_admin()
    finally:
        await engine.dispose()
    return (admin.username if admin else ""), generated
