"""Shared fixtures of the kit tests: a demo settings class, sample events, the kit database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import ClassVar

import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js.client import JetStreamContext
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from coagent_cli.stack import EmbeddedStack
from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_kit.broker import create_broker, ensure_streams
from coagent_kit.settings import ServiceSettings

#: Long enough for HS256 (PyJWT warns below 32 bytes, and warnings are errors here).
TEST_SECRET = "kit-tests-internal-secret-0123456789abcdef"


class DemoSettings(ServiceSettings):
    """A service's settings as every service writes them: own prefix, own fields."""

    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "demo"

    database_url: str = "postgresql+asyncpg://demo@localhost/demo"
    api_secret: SecretStr = SecretStr("changeme")
    greeting: str = "hello"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``COAGENT_*`` / ``DEMO_*`` variable from the outer environment leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith(("COAGENT_", "DEMO_")):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def demo_settings_cls(clean_env: pytest.MonkeyPatch) -> type[DemoSettings]:
    """The demo settings class, in a clean environment."""
    return DemoSettings


@pytest.fixture
def demo_settings(clean_env: pytest.MonkeyPatch) -> DemoSettings:
    return DemoSettings(internal_token_secret=SecretStr(TEST_SECRET))


@pytest.fixture
def make_posted() -> Callable[..., MessagePostedV1]:
    """``make_posted(room_id=None)``: a valid chat event, in a fresh room unless given one."""

    def make(room_id: str | None = None, content: str = "hi") -> MessagePostedV1:
        room = room_id or f"room-{uuid.uuid4().hex[:12]}"
        return MessagePostedV1(
            producer="kit-tests",
            data=MessagePostedData(
                message_id=uuid.uuid4().hex,
                room_id=room,
                seq=1,
                sender_kind="human",
                content=content,
                created_at=datetime.now(UTC),
            ),
        )

    return make


@pytest.fixture(scope="session")
def kit_database_url(embedded_stack: EmbeddedStack) -> str:
    """An empty database (``coagent_kit_tests``) owned by its own role."""
    return embedded_stack.ensure_database("kit-tests")


@pytest.fixture(scope="session")
async def streams(nats_url: str) -> str:
    """The fleet's streams exist on the session's NATS; returns its URL."""
    await ensure_streams(nats_url)
    return nats_url


@pytest.fixture
def durable() -> str:
    """A consumer name of this test only."""
    return f"kit-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc: NatsClient = await nats.connect(nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


@pytest.fixture
async def real_broker(streams: str) -> AsyncIterator[Callable[[], NatsBroker]]:
    """``new()`` builds a broker; each one built is stopped at the end of the test."""
    brokers: list[NatsBroker] = []

    def new() -> NatsBroker:
        broker = create_broker(streams, "kit-tests")
        brokers.append(broker)
        return broker

    yield new
    for broker in brokers:
        await broker.stop()
