"""Chat survives a kill -9 mid-stream: no acknowledged message is lost, duplicated or reordered.

Posters stream messages into one room over HTTP (each with its own ``Idempotency-Key``, retried
with the same key until acknowledged) while one WebSocket client follows the room. Mid-stream the
chat service is killed with SIGKILL and restarted (the client also reconnects while chat is down,
whose replay then fails until chat is back). Afterwards the room's history holds every
acknowledged message exactly once, in a gap-free, increasing ``seq`` order that respects each
poster's order, and the WebSocket client has seen every one of them (resuming with ``?since=``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually, running_fleet
from coagent_cli.testing_faults import Follower

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

MESSAGES = 150
POSTERS = 3
KILL_AFTER = 50  # acknowledged posts before the kill
DOWN_S = 1.0  # how long chat stays dead before the restart
POST_TIMEOUT_S = 5.0
DEADLINE_S = 45.0  # a post not acknowledged by then fails the test
RETRYABLE = {502, 503, 504}
REPLAYED = 10  # acknowledged keys posted again after the restart


@pytest.fixture(scope="module")
def fault_fleet() -> Iterator[Fleet]:
    """A fleet of its own: killing chat must not disturb the session's other e2e tests."""
    with running_fleet(ADMIN_EMAIL, ADMIN_PASSWORD) as running:
        yield running


@dataclass
class Ack:
    """One acknowledged post: who sent it, the stored message it names, how it got there."""

    poster: int
    index: int
    key: str
    seq: int
    message_id: str
    attempts: int
    status: int  # 201 stored now, 200 a retry of a message stored earlier


@dataclass
class Stream:
    """What the posters injected and what came back."""

    acked: dict[str, Ack] = field(default_factory=dict)
    retries: Counter[str] = field(default_factory=Counter)
    unacked: list[str] = field(default_factory=list)
    acked_count: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, content: str, ack: Ack) -> None:
        self.acked[content] = ack
        self.acked_count += 1
        if self.acked_count >= KILL_AFTER:
            self.enough.set()


async def _post_one(
    client: httpx.AsyncClient, room_id: str, content: str, key: str, stream: Stream
) -> tuple[dict[str, Any], int, int] | None:
    """Post until acknowledged, always with the same key; None at the deadline."""
    deadline, delay, attempts = time.monotonic() + DEADLINE_S, 0.05, 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            response = await client.post(
                f"/api/v1/chat/messages/{room_id}",
                json={"content": content},
                headers={"Idempotency-Key": key},
                timeout=POST_TIMEOUT_S,
            )
        except httpx.TimeoutException:
            stream.retries["timeout"] += 1
        except httpx.TransportError:
            stream.retries["connection error"] += 1
        else:
            if response.status_code in (200, 201):
                body: dict[str, Any] = response.json()
                return body, attempts, response.status_code
            assert response.status_code in RETRYABLE, (content, response.status_code, response.text)
            stream.retries[f"HTTP {response.status_code}"] += 1
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
    return None


async def _poster(
    base_url: str, cookie: str, room_id: str, number: int, run: str, stream: Stream
) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers={"Cookie": cookie}) as client:
        for index in range(number, MESSAGES, POSTERS):
            content = f"fault {run} p{number} #{index:03d}"
            key = f"{run}-{index}"
            answer = await _post_one(client, room_id, content, key, stream)
            if answer is None:
                stream.unacked.append(content)
                continue
            body, attempts, status = answer
            assert body["content"] == content, body
            assert isinstance(body["seq"], int), body
            ack = Ack(number, index, key, body["seq"], body["id"], attempts, status)
            stream.record(content, ack)
            await asyncio.sleep(0.01)  # a stream, not a burst


async def _replay_keys(
    client: httpx.AsyncClient, room_id: str, stream: Stream
) -> list[tuple[Ack, int, dict[str, Any]]]:
    """Send the first acknowledged posts again, same key and body (a client that lost the acks).

    Their keys were stored before the kill: chat must still know them after its restart.
    """
    first = sorted(stream.acked.items(), key=lambda item: item[1].seq)[:REPLAYED]
    answers = []
    for content, ack in first:
        response = await client.post(
            f"/api/v1/chat/messages/{room_id}",
            json={"content": content},
            headers={"Idempotency-Key": ack.key},
        )
        answers.append((ack, response.status_code, response.json()))
    return answers


async def _kill_and_restart(fleet: Fleet, stream: Stream, follower: Follower) -> dict[str, float]:
    await stream.enough.wait()
    acked_at_kill = stream.acked_count
    started = time.monotonic()
    await asyncio.to_thread(fleet.kill, "chat")
    follower.reconnect.set()  # resume while chat is down
    await asyncio.sleep(DOWN_S)
    await asyncio.to_thread(fleet.restart, "chat")
    restarted = time.monotonic()
    await asyncio.to_thread(fleet.wait_ready, 60.0)
    ready = time.monotonic()
    return {
        "acked_at_kill": acked_at_kill,
        "start_s": ready - restarted,
        "outage_s": ready - started,
    }


async def _history(client: httpx.AsyncClient, room_id: str) -> list[dict[str, Any]]:
    """The whole room, page by page (the route serves at most 500 a page)."""
    items: list[dict[str, Any]] = []
    since = 0
    while True:
        page = await client.get(
            f"/api/v1/chat/messages/{room_id}", params={"since": since, "limit": 500}
        )
        assert page.status_code == 200, page.text
        batch: list[dict[str, Any]] = page.json()
        items.extend(batch)
        if len(batch) < 500:
            return items
        since = batch[-1]["seq"]


def _setup(base_url: str) -> tuple[str, str]:
    with httpx.Client(base_url=base_url, timeout=10) as admin:
        login = admin.post(
            "/api/v1/login/access-token",
            files={"username": (None, ADMIN_EMAIL), "password": (None, ADMIN_PASSWORD)},
        )
        assert login.status_code == 200, login.text
        course = admin.post("/api/v1/courses/", json={"title": "Faults", "description": "d"})
        assert course.status_code in (200, 201), course.text
        room = admin.post(
            "/api/v1/rooms/", json={"name": "Crash", "course_id": course.json()["id"]}
        )
        assert room.status_code in (200, 201), room.text
        return f"access_token={admin.cookies.get('access_token', path='/')}", room.json()["id"]


def test_acknowledged_messages_survive_a_chat_kill(fault_fleet: Fleet) -> None:
    started = time.monotonic()
    cookie, room_id = _setup(fault_fleet.gateway_url)
    ws_url = fault_fleet.gateway_url.replace("http://", "ws://") + f"/api/v1/chat/ws/{room_id}"
    run = uuid.uuid4().hex[:6]
    stream, follower = Stream(), Follower(ws_url, cookie)

    async def scenario() -> tuple[
        dict[str, float], list[dict[str, Any]], list[tuple[Ack, int, dict[str, Any]]]
    ]:
        stop = asyncio.Event()
        following = asyncio.create_task(follower.run(stop))
        await asyncio.wait_for(follower.joined.wait(), 10)
        await asyncio.sleep(0.3)  # the live subscription is in place
        fault = asyncio.create_task(_kill_and_restart(fault_fleet, stream, follower))
        await asyncio.gather(
            *(
                _poster(fault_fleet.gateway_url, cookie, room_id, p, run, stream)
                for p in range(POSTERS)
            )
        )
        if not stream.enough.is_set():
            fault.cancel()
            raise AssertionError(f"only {stream.acked_count} posts acknowledged before any kill")
        timing = await fault
        async with httpx.AsyncClient(
            base_url=fault_fleet.gateway_url, headers={"Cookie": cookie}, timeout=10
        ) as client:
            replays = await _replay_keys(client, room_id, stream)
        acked_seqs = {a.seq for a in stream.acked.values()}

        async def delivered() -> bool:
            return acked_seqs <= {f.seq for f in follower.frames}

        try:
            await eventually(delivered, "every acknowledged message on the WebSocket", 15)
        finally:
            stop.set()
            await following
        async with httpx.AsyncClient(
            base_url=fault_fleet.gateway_url, headers={"Cookie": cookie}, timeout=10
        ) as client:
            history = await _history(client, room_id)
        return timing, history, replays

    timing, history, replays = asyncio.run(scenario())

    # Keys acknowledged before the kill, sent again after the restart: the same message (200).
    for ack, status, body in replays:
        assert status == 200, (ack, status, body)
        assert (body["seq"], body["id"]) == (ack.seq, ack.message_id), (ack, body)

    # Every post was acknowledged in the end (the outage is shorter than a poster's deadline).
    assert not stream.unacked, f"never acknowledged: {stream.unacked}"
    assert len(stream.acked) == MESSAGES

    # History: each acknowledged content exactly once, nothing else, seqs increasing and gap-free.
    counts = Counter(m["content"] for m in history)
    duplicated = {c: n for c, n in counts.items() if n > 1}
    assert not duplicated, f"stored more than once: {duplicated}"
    missing = set(stream.acked) - set(counts)
    assert not missing, f"acknowledged but not stored: {sorted(missing)}"
    assert set(counts) == set(stream.acked), f"unexpected: {set(counts) - set(stream.acked)}"
    seqs = [m["seq"] for m in history]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"seqs not gap-free: {seqs}"
    stored = {m["content"]: m for m in history}
    for content, ack in stream.acked.items():
        # The acknowledgement names the message that was stored (also for a retried key).
        assert ack.seq == stored[content]["seq"], (content, ack, stored[content])
        assert ack.message_id == stored[content]["id"], (content, ack, stored[content])
    for poster in range(POSTERS):
        mine = sorted((a.index, a.seq) for a in stream.acked.values() if a.poster == poster)
        assert [s for _, s in mine] == sorted(s for _, s in mine), f"poster {poster} reordered"

    # The WebSocket client: every stored message once, in seq order, with the stored id and
    # content. It always resumed with ?since=<last seq seen>, so even across its reconnects no
    # seq may come twice or go backwards.
    arrived = follower.seqs()
    backwards = [(a, b) for a, b in zip(arrived, arrived[1:], strict=False) if b <= a]
    assert not backwards, f"frames repeated or out of seq order (prev, next): {backwards}"
    assert set(arrived) == set(seqs), f"not delivered: {sorted(set(seqs) - set(arrived))}"
    by_seq = {f.seq: (f.message_id, f.content) for f in follower.frames}
    for m in history:
        assert by_seq[m["seq"]] == (m["id"], m["content"]), m

    retried = [a for a in stream.acked.values() if a.attempts > 1]
    recognised = sum(1 for a in retried if a.status == 200)
    print(  # noqa: T201 -- the summary of a fault test is its report (-s shows it)
        f"\ninjected: {MESSAGES} posts by {POSTERS} posters; SIGKILL of chat after "
        f"{timing['acked_at_kill']:.0f} acks, restarted after {DOWN_S}s, ready after "
        f"{timing['start_s']:.1f}s more (outage {timing['outage_s']:.1f}s); "
        f"posts retried: {len(retried)} ({dict(stream.retries)}), of which {recognised} "
        f"answered 200 (stored before the kill, not stored again); "
        f"{len(replays)} keys acknowledged before the kill posted again after the restart; "
        f"WebSocket connections: {follower.connections} "
        f"(drops: {dict(follower.drops)})\n"
        f"checked: {len(history)} stored (seq {seqs[0]}..{seqs[-1]}, gap-free, none twice, "
        f"acks match stored seq/id, per-poster order kept, re-posted keys answered 200 with "
        f"the stored seq/id); WebSocket saw all {len(arrived)} "
        f"once each in seq order; {time.monotonic() - started:.1f}s"
    )
