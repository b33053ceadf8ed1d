"""Trigger firing latency: scheduled instant → fired event, and message → fired event.

The fleet gets one unscoped *background* silence policy (30 min threshold), ``--message-policies``
keyword policies and ``--probe-rooms`` *probe* silence policies (3 s threshold, one room each).
Human messages are published straight onto the CHAT stream (as chat's outbox relay does), first
one into each of ``--rooms`` rooms, which arms that many background silence timers; they stay
armed for the whole run. With the consumers drained, the probe rooms are then made to fall
silent ``--rounds`` times each, and ``--probes`` messages each matching one keyword policy are
published at ``--rate`` per second. Every ``TriggerFiredV1`` is read from JetStream as it lands:
a silence's arrival is compared with its ``scheduled_for``, a keyword firing's with the moment
its message was published.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
from _common import percentile, save
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from coagent_cli.fleet import SERVICES
from coagent_cli.testing import running_fleet
from coagent_contracts.chat import MessagePostedData, MessagePostedV1
from coagent_contracts.trigger import TriggerFiredV1
from coagent_kit.broker import event_headers

EMAIL, PASSWORD = "bench@example.org", "bench-password-123"
BACKGROUND_THRESHOLD_MINS = 30.0  # long enough never to fall due during a run
PROBE_THRESHOLD_S = 3.0  # 0.05 min, the shortest silence the contract allows
MESSAGE_ROOMS = 10


def _message(room: str, content: str) -> MessagePostedV1:
    return MessagePostedV1(
        producer="bench",
        data=MessagePostedData(
            message_id=uuid.uuid4().hex,
            room_id=room,
            seq=1,
            sender_id="bench-user",
            sender_kind="human",
            content=content,
            created_at=datetime.now(UTC),
        ),
    )


def _setup(base_url: str, message_policies: int, probes: int) -> tuple[list[str], list[str]]:
    """Log in; create the target workflow, the rooms probes go to and every policy; returns the
    silence probe rooms and the message rooms.

    A policy fires in a room only while its owner may act on it, which the trigger asks of the
    gateway: probes go to real rooms of a course.
    """
    with httpx.Client(base_url=base_url, timeout=60) as api:
        response = api.post(
            "/api/v1/login/access-token",
            files={"username": (None, EMAIL), "password": (None, PASSWORD)},
        )
        response.raise_for_status()
        graph = {
            "schema_version": 1,
            "nodes": [{"id": "start", "type": "start"}, {"id": "end", "type": "end"}],
            "edges": [{"id": "e1", "source": "start", "target": "end"}],
        }
        workflow = api.post("/api/v1/workflows", json={"name": "bench", "graph_data": graph})
        workflow.raise_for_status()
        target = workflow.json()["id"]

        def policy(event_type: str, conditions: dict[str, Any], room: str | None = None) -> None:
            body = {
                "name": f"bench-{event_type}",
                "event_type": event_type,
                "conditions": {**conditions, "overlap": "allow"},
                "target_workflow_id": target,
                "scope_session_id": room,
            }
            api.post("/api/v1/triggers", json=body).raise_for_status()

        course = api.post("/api/v1/courses/", json={"title": "trigger bench"})
        course.raise_for_status()

        def room(name: str) -> str:
            created = api.post(
                "/api/v1/rooms/", json={"name": name, "course_id": course.json()["id"]}
            )
            created.raise_for_status()
            room_id: str = created.json()["id"]
            return room_id

        probe_rooms = [room(f"probe-{i}") for i in range(probes)]
        message_rooms = [room(f"messages-{i}") for i in range(MESSAGE_ROOMS)]
        policy("silence", {"threshold_mins": BACKGROUND_THRESHOLD_MINS})
        for room_id in probe_rooms:
            policy("silence", {"threshold_mins": PROBE_THRESHOLD_S / 60}, room_id)
        for i in range(message_policies):
            policy("user_message", {"keyword": f"kw{i:04d}x"})
        return probe_rooms, message_rooms


class Arrivals:
    """Every fired event with the wall-clock time it reached the bench."""

    def __init__(self) -> None:
        self.events: list[tuple[float, TriggerFiredV1]] = []

    async def on_msg(self, msg: Msg) -> None:
        self.events.append((time.time(), TriggerFiredV1.model_validate_json(msg.data)))

    def of(self, event_type: str) -> list[tuple[float, TriggerFiredV1]]:
        return [(t, e) for t, e in self.events if e.data.event_type == event_type]

    def reached(self, event_type: str, count: int) -> Callable[[], bool]:
        """A probe: have ``count`` firings of ``event_type`` arrived?"""
        return lambda: len(self.of(event_type)) >= count


async def _publish(js: Any, event: MessagePostedV1) -> float:
    sent = time.time()
    await js.publish(event.subject, event.model_dump_json().encode(), headers=event_headers(event))
    return sent


async def _publish_at_rate(js: Any, events: list[MessagePostedV1], rate: float) -> dict[str, float]:
    """Publish ``events`` at ``rate`` per second; return each event id's publish time."""
    sent: dict[str, float] = {}
    start = time.monotonic()
    for index, event in enumerate(events):
        await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
        sent[event.event_id] = await _publish(js, event)
    return sent


async def _drained(js: Any, timeout_s: float = 300.0) -> None:
    """Wait until trigger's CHAT consumers have nothing pending (the timers are armed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        infos = [
            await js.consumer_info("CHAT", name)
            for name in ("trigger-room-activity", "trigger-message-policies")
        ]
        if all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos):
            return
        await asyncio.sleep(1.0)
    raise TimeoutError("trigger did not drain the CHAT stream")


async def _until(done: Callable[[], bool], timeout_s: float) -> None:
    """Poll ``done`` until it holds or ``timeout_s`` has passed (the figures show a shortfall)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return
        await asyncio.sleep(0.2)


async def _silence_rounds(
    js: Any, arrivals: Arrivals, probe_rooms: list[str], rounds: int
) -> list[float]:
    """Make every probe room fall silent ``rounds`` times; lateness of each firing (s)."""
    for _ in range(rounds):
        seen = len(arrivals.of("silence"))
        for room in probe_rooms:
            await _publish(js, _message(room, "still here"))
            await asyncio.sleep(0.05)  # staggered, as real rooms are
        await _until(arrivals.reached("silence", seen + len(probe_rooms)), PROBE_THRESHOLD_S + 60)
    return [
        received - e.data.scheduled_for.timestamp()
        for received, e in arrivals.of("silence")
        if e.data.scheduled_for is not None
    ]


async def measure(
    nats_url: str,
    args: argparse.Namespace,
    run: str,
    rooms: tuple[list[str], list[str]],
) -> dict[str, Any]:
    probe_rooms, message_rooms = rooms
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    arrivals = Arrivals()
    await js.subscribe(
        "trigger.policy.*.fired.v1",
        cb=arrivals.on_msg,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.NEW,
    )
    background = [_message(f"bench-{run}-room-{i}", "hello") for i in range(args.rooms)]
    started = time.monotonic()
    await _publish_at_rate(js, background, args.arm_rate)
    await _drained(js)
    armed_s = time.monotonic() - started

    silence_lat = await _silence_rounds(js, arrivals, probe_rooms, args.rounds)

    keywords = [
        f"please kw{random.randrange(args.message_policies):04d}x" for _ in range(args.probes)
    ]
    probes = [
        _message(message_rooms[i % len(message_rooms)], text) for i, text in enumerate(keywords)
    ]
    sent = await _publish_at_rate(js, probes, args.rate)
    await _until(arrivals.reached("user_message", len(probes)), 60.0)
    await nc.close()
    message_lat = [
        received - sent[e.data.source_event_id]
        for received, e in arrivals.of("user_message")
        if e.data.source_event_id in sent
    ]
    return {
        "active_silence_timers": args.rooms,
        "message_policies": args.message_policies,
        "arming_s": round(armed_s, 1),
        "silence_firings": len(silence_lat),
        "silence_expected": args.probe_rooms * args.rounds,
        "silence_p50_ms": round(percentile(sorted(silence_lat), 0.5) * 1000, 1),
        "silence_p99_ms": round(percentile(sorted(silence_lat), 0.99) * 1000, 1),
        "message_firings": len(message_lat),
        "message_expected": args.probes,
        "message_rate": args.rate,
        "message_p50_ms": round(percentile(sorted(message_lat), 0.5) * 1000, 1),
        "message_p99_ms": round(percentile(sorted(message_lat), 0.99) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=1000, help="background silence timers")
    parser.add_argument("--arm-rate", type=float, default=50.0, help="their messages per second")
    parser.add_argument("--message-policies", type=int, default=100)
    parser.add_argument("--probe-rooms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--probes", type=int, default=200, help="keyword-matching messages")
    parser.add_argument("--rate", type=float, default=5.0, help="their messages per second")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]
    with running_fleet(EMAIL, PASSWORD) as fleet:
        rooms = _setup(fleet.gateway_url, args.message_policies, args.probe_rooms)
        nats_url = fleet.env_for(SERVICES[0])["COAGENT_NATS_URL"]
        figures = asyncio.run(measure(nats_url, args, run, rooms))
    save("trigger_latency", figures)


if __name__ == "__main__":
    main()
