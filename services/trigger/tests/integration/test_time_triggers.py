"""Silence, debounce and cron triggers end to end: real NATS message schedules and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from coagent_cli.testing import eventually
from coagent_contracts.chat import MessagePostedV1
from coagent_contracts.streams import CHAT, TRIGGER
from coagent_contracts.trigger import TriggerFiredV1, trigger_fired_subject
from coagent_kit.broker import event_headers
from coagent_trigger.due_service import SCHEDULES_CONSUMER
from coagent_trigger.policy_service import MESSAGE_POLICIES_CONSUMER
from coagent_trigger.service import ROOM_ACTIVITY_CONSUMER
from coagent_trigger.settings import TriggerSettings

from .app_kit import api_client, running_app

pytestmark = pytest.mark.integration

Posted = Callable[..., MessagePostedV1]
#: Silence threshold of the tests: 0.05 min = 3 s, the smallest the contract allows.
THRESHOLD_MINS = 0.05
THRESHOLD = timedelta(minutes=THRESHOLD_MINS)
#: How late a silence firing may reach the stream after its threshold.
SILENCE_BOUND_S = 1.0


@pytest.fixture
async def app(
    nats_url: str, database_url: str, settings: TriggerSettings
) -> AsyncIterator[FastAPI]:
    fresh = [
        (CHAT.name, MESSAGE_POLICIES_CONSUMER),
        (CHAT.name, ROOM_ACTIVITY_CONSUMER),
        (TRIGGER.name, SCHEDULES_CONSUMER),
    ]
    async with running_app(settings, nats_url, database_url, fresh) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI, settings: TriggerSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app, settings) as http:
        yield http


@dataclass
class Fired:
    """``TriggerFiredV1`` events of one policy, with the wall-clock time each reached us."""

    events: list[tuple[float, TriggerFiredV1]] = field(default_factory=list)

    async def on_msg(self, msg: Msg) -> None:
        self.events.append((time.time(), TriggerFiredV1.model_validate_json(msg.data)))

    def __len__(self) -> int:
        return len(self.events)


async def watch_fired(nc: NatsClient, policy_id: str) -> Fired:
    fired = Fired()
    await nc.jetstream().subscribe(
        trigger_fired_subject(policy_id),
        cb=fired.on_msg,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.NEW,
    )
    return fired


async def create_policy(client: httpx.AsyncClient, **body: Any) -> str:
    response = await client.post(
        "/api/v1/triggers", json={"name": "t", "target_workflow_id": "wf-1", **body}
    )
    assert response.status_code == 201, response.text
    policy_id: str = response.json()["id"]
    return policy_id


async def publish(nc: NatsClient, event: MessagePostedV1) -> None:
    await nc.jetstream().publish(
        event.subject, event.model_dump_json().encode(), headers=event_headers(event)
    )


def now_message(
    posted: Posted, seq: int, room: str, kind: str = "human", **kw: Any
) -> MessagePostedV1:
    return posted(seq, kind, room, created_at=datetime.now(UTC), **kw)


async def test_silence_fires_once_within_a_second_and_rearms_on_a_new_message(
    client: httpx.AsyncClient, nc: NatsClient, posted: Posted
) -> None:
    room = f"it-silence-{uuid.uuid4().hex[:8]}"
    policy_id = await create_policy(
        client,
        event_type="silence",
        conditions={"threshold_mins": THRESHOLD_MINS, "overlap": "allow"},
        scope_session_id=room,
    )
    fired = await watch_fired(nc, policy_id)

    first = now_message(posted, 1, room)
    await publish(nc, first)
    await asyncio.sleep(1.5)
    # A human message half-way through restarts the silence; an agent reply does not.
    second = now_message(posted, 2, room)
    await publish(nc, second)
    await publish(nc, now_message(posted, 3, room, kind="agent"))

    await eventually(lambda: _at_least(fired, 1), "the silence firing", timeout_s=15)
    await asyncio.sleep(THRESHOLD.total_seconds() + 1)  # time enough for a second firing
    assert len(fired) == 1, "one silence, one firing"
    received, event = fired.events[0]
    due = second.data.created_at + THRESHOLD
    assert event.data.scheduled_for == due
    assert event.data.room_id == room
    assert event.data.payload["type"] == "silence"
    assert 0 <= received - due.timestamp() < SILENCE_BOUND_S

    # A new human message starts a new silence period, which fires once more.
    third = now_message(posted, 4, room)
    await publish(nc, third)
    await eventually(lambda: _at_least(fired, 2), "the second silence firing", timeout_s=15)
    received, event = fired.events[1]
    assert event.data.scheduled_for == third.data.created_at + THRESHOLD
    assert 0 <= received - event.data.scheduled_for.timestamp() < SILENCE_BOUND_S
    log = (await client.get(f"/api/v1/triggers/{policy_id}/firings")).json()
    assert len(log) == 2


async def test_a_paused_silence_policy_does_not_fire(
    client: httpx.AsyncClient, nc: NatsClient, posted: Posted
) -> None:
    room = f"it-silence-paused-{uuid.uuid4().hex[:8]}"
    policy_id = await create_policy(
        client,
        event_type="silence",
        conditions={"threshold_mins": THRESHOLD_MINS},
        scope_session_id=room,
    )
    fired = await watch_fired(nc, policy_id)
    await publish(nc, now_message(posted, 1, room))

    async def armed() -> bool:
        response = await client.get(f"/internal/rooms/{room}/activity")
        return response.status_code == 200

    await eventually(armed, "the message in the projection", timeout_s=10)
    response = await client.put(f"/api/v1/triggers/{policy_id}", json={"is_active": False})
    assert response.status_code == 200
    await asyncio.sleep(THRESHOLD.total_seconds() + 1.5)
    assert len(fired) == 0
    assert (await client.get(f"/api/v1/triggers/{policy_id}/firings")).json() == []


async def test_a_burst_of_fifty_messages_fires_once_with_the_last_and_the_count(
    client: httpx.AsyncClient, nc: NatsClient, posted: Posted
) -> None:
    room = f"it-debounce-{uuid.uuid4().hex[:8]}"
    policy_id = await create_policy(
        client,
        event_type="user_message",
        conditions={"debounce": {"period_s": 1.0, "max_wait_s": 60.0}, "overlap": "allow"},
        scope_session_id=room,
    )
    fired = await watch_fired(nc, policy_id)
    burst = [now_message(posted, seq, room, content=f"burst {seq}") for seq in range(1, 51)]
    for event in burst:
        await publish(nc, event)

    await eventually(lambda: _at_least(fired, 1), "the debounced firing", timeout_s=30)
    await asyncio.sleep(2.5)  # more than a period: a second firing would have come by now
    assert len(fired) == 1
    firing = fired.events[0][1]
    assert firing.data.source_event_id == burst[-1].event_id
    assert firing.data.payload["count"] == 50
    assert firing.data.payload["content"] == "burst 50"
    log = (await client.get(f"/api/v1/triggers/{policy_id}/firings")).json()
    assert [entry["detail"]["debounced"] for entry in log] == [50]


async def test_cron_fires_at_its_instants_in_the_policy_time_zone(
    client: httpx.AsyncClient, nc: NatsClient
) -> None:
    zone = ZoneInfo("Asia/Kolkata")  # UTC+05:30: neither its hours nor minutes match UTC's
    hour = datetime.now(zone).hour
    hours = f"{hour},{(hour + 1) % 24}"  # the current local hour, and the next if we cross it
    policy_id = await create_policy(
        client,
        event_type="cron",
        conditions={"cron": f"*/2 * {hours} * * *", "timezone": "Asia/Kolkata", "overlap": "allow"},
    )
    fired = await watch_fired(nc, policy_id)
    await eventually(lambda: _at_least(fired, 3), "three cron firings", timeout_s=20)

    instants = [event.data.scheduled_for for _, event in fired.events[:3]]
    assert all(i is not None for i in instants)
    local = [i.astimezone(zone) for i in instants if i is not None]
    assert all(t.second % 2 == 0 and t.microsecond == 0 for t in local)
    assert all(t.hour in (hour, (hour + 1) % 24) for t in local)
    assert [b - a for a, b in zip(local, local[1:], strict=False)] == [timedelta(seconds=2)] * 2
    for received, event in fired.events[:3]:
        assert event.data.scheduled_for is not None
        # Generous: this checks the instants, not the latency (bench/trigger_latency.py does).
        assert received - event.data.scheduled_for.timestamp() < 5.0

    # Pausing stops the clock: no firing after the pause has been applied.
    response = await client.put(f"/api/v1/triggers/{policy_id}", json={"is_active": False})
    assert response.status_code == 200
    await asyncio.sleep(0.5)  # a due message already being handled may still land
    count = len(fired)
    await asyncio.sleep(3.0)
    assert len(fired) == count


async def _at_least(fired: Fired, n: int) -> bool:
    return len(fired) >= n
