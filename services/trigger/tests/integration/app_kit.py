"""The whole trigger app for integration tests, and an API client acting as one user."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from coagent_cli.testing import fresh_consumer
from coagent_kit.auth import HEADER, InternalIdentity, sign_identity
from coagent_trigger.app import create_app
from coagent_trigger.settings import TriggerSettings

#: (stream, durable) of a consumer to recreate before the app starts.
Consumer = tuple[str, str]


@asynccontextmanager
async def running_app(
    settings: TriggerSettings, nats_url: str, database_url: str, fresh: Iterable[Consumer] = ()
) -> AsyncIterator[FastAPI]:
    """The trigger app, started and stopped through its lifespan.

    ``fresh`` consumers are recreated first: a previous app's fetched-but-unsettled batch would
    otherwise hold them back for a whole ack wait.
    """
    for stream, durable in fresh:
        await fresh_consumer(nats_url, stream, durable)
    cfg = settings.model_copy(update={"nats_url": nats_url, "database_url": database_url})
    app = create_app(cfg)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def api_client(
    app: FastAPI, settings: TriggerSettings, *, role: str = "admin", user_id: str = "u1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app``'s API carrying the identity the gateway would forward."""
    secret = settings.internal_token_secret.get_secret_value()
    identity = InternalIdentity(user_id=user_id, platform_role=role)
    token = sign_identity(secret, identity, "trigger")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://trigger",
        headers={HEADER: token},
    ) as http:
        yield http
