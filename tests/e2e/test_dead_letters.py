"""A message no consumer can process is kept, shown to admins, and can be replayed or dropped."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import nats
import pytest

from coagent_cli.fleet import SERVICES, Fleet
from coagent_cli.testing import eventually

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.e2e

URL = "/api/v1/admin/dead-letters"


async def _admin(fleet: Fleet) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=fleet.gateway_url, timeout=20)
    login = await client.post(
        "/api/v1/login/access-token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 200, login.text
    return client


async def test_a_malformed_event_becomes_a_dead_letter_admins_can_handle(fleet: Fleet) -> None:
    subject = f"chat.room.dl-{uuid.uuid4().hex[:10]}.message.posted.v1"
    nc = await nats.connect(fleet.env_for(SERVICES[0])["COAGENT_NATS_URL"])
    try:
        # Something published a chat event no consumer can read (not through the outbox).
        await nc.jetstream().publish(subject, b'{"type": "chat.message.posted", "data": {}}')
    finally:
        await nc.close()
    admin = await _admin(fleet)
    try:

        async def kept() -> list[dict[str, Any]] | None:
            letters = (await admin.get(URL, params={"limit": 200})).json()
            mine = [letter for letter in letters if letter["subject"] == subject]
            return mine or None

        letters = await eventually(kept, "dead letters for the malformed event", timeout_s=30)
        letter = letters[0]
        assert letter["reason"] == "invalid"
        assert letter["payload"] == {"type": "chat.message.posted", "data": {}}
        assert letter["consumer"]  # which consumer gave up, e.g. trigger or graphrag-ingest

        replay = await admin.post(f"{URL}/{letter['seq']}/replay")
        assert (replay.status_code, replay.json()["code"]) == (409, "replay_failed")
        assert (await admin.get(f"{URL}/{letter['seq']}")).status_code == 200
        assert (await admin.delete(f"{URL}/{letter['seq']}")).status_code == 204
        assert (await admin.get(f"{URL}/{letter['seq']}")).status_code == 404
    finally:
        await admin.aclose()
