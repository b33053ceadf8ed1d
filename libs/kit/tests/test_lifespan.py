"""The shared lifespan: ``on_stop`` hooks run first on shutdown, while the broker still works."""

from __future__ import annotations

import uuid

import nats
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from coagent_kit.broker import create_broker
from coagent_kit.lifespan import messaging_lifespan

from .conftest import TEST_SECRET, DemoSettings

pytestmark = pytest.mark.integration


async def test_on_stop_hooks_run_first_while_the_broker_is_connected(
    streams: str, clean_env: pytest.MonkeyPatch
) -> None:
    settings = DemoSettings(nats_url=streams, internal_token_secret=SecretStr(TEST_SECRET))
    broker = create_broker(streams, "kit-tests")
    subject = f"kit.lifespan.{uuid.uuid4().hex[:12]}"
    order: list[str] = []
    listener = await nats.connect(streams)
    received = await listener.subscribe(subject)

    async def failing_hook() -> None:
        order.append("failing")
        raise RuntimeError("one hook failing does not stop the next")

    async def hand_back() -> None:
        await broker.publish(b"handed back", subject)  # only possible while connected
        order.append("hand_back")

    async def close() -> None:
        order.append("close")

    lifespan = messaging_lifespan(
        settings, broker, on_stop=[failing_hook, hand_back], closers=[close]
    )
    try:
        async with lifespan(FastAPI()):
            assert order == []
        message = await received.next_msg(timeout=5.0)
    finally:
        await listener.close()

    assert order == ["failing", "hand_back", "close"]
    assert message.data == b"handed back"
