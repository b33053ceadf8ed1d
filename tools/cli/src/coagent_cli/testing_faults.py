"""Fault injection and a steady load through the gateway, for the fleet-wide fault tests.

Posters send messages to a room over HTTP, each with a unique marker and its own
``Idempotency-Key``, retried with the same key until the gateway acknowledges it. Followers read
a room's WebSocket and, whenever it drops, resume with ``?since=<last seq seen>`` the way a
client is expected to. Faults are a kill -9 and restart of one service, or a stop and start of
nats-server on its port and store directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from coagent_cli.fleet import Fleet
from coagent_cli.stack import EmbeddedStack

#: What a gateway may answer while a service behind it is down.
RETRYABLE = frozenset({502, 503, 504})
NATS_START_TIMEOUT_S = 60.0
NATS_STOP_TIMEOUT_S = 10.0


def kill_and_restart(fleet: Fleet, name: str, down_s: float) -> None:
    """SIGKILL one service, leave it dead for ``down_s``, start it again (not waiting for it)."""
    fleet.kill(name)
    time.sleep(down_s)
    fleet.restart(name)


def restart_nats(stack: EmbeddedStack, down_s: float) -> None:
    """Stop nats-server (SIGTERM), leave it down for ``down_s``, start it on the same port and
    store directory, and wait until JetStream answers its health check."""
    # The stack owns the server; going through its own component keeps the pid file and the
    # process handle it stops at the end in step with the new process.
    nats_server = stack._nats
    nats_server.stop(NATS_STOP_TIMEOUT_S)
    time.sleep(down_s)
    nats_server.start(NATS_START_TIMEOUT_S)


@dataclass(frozen=True)
class Ack:
    """A post the gateway acknowledged, and the stored message it named."""

    marker: str
    room_id: str
    seq: int
    message_id: str
    attempts: int
    status: int  # 201 stored now, 200 a retry of a message stored earlier


@dataclass(frozen=True)
class Unexpected:
    """A server error other than "unavailable", with what finds it in the service logs."""

    marker: str
    status: int
    body: str
    request_id: str


@dataclass
class Ledger:
    """Everything the posters sent and what came back."""

    acked: dict[str, Ack] = field(default_factory=dict)
    retries: Counter[str] = field(default_factory=Counter)
    unacked: list[str] = field(default_factory=list)
    #: Server errors no outage explains (a 500, say), retried all the same.
    errors: list[Unexpected] = field(default_factory=list)


@dataclass
class Poster:
    """Posts ``<marker>`` (plus ``keyword`` every ``fire_every``-th message) every ``period_s``."""

    name: str
    room_id: str
    keyword: str
    fire_every: int
    period_s: float
    post_timeout_s: float = 5.0
    deadline_s: float = 60.0
    sent: int = 0

    async def run(self, client: httpx.AsyncClient, ledger: Ledger, stop: asyncio.Event) -> None:
        """Post until ``stop`` is set; the post under way is still retried until acknowledged."""
        while not stop.is_set():
            self.sent += 1
            marker = f"{self.name}-{self.sent:04d}"
            fire = self.sent % self.fire_every == 0
            content = f"{marker} {self.keyword}" if fire else marker
            ack = await self._post(client, content, marker, ledger)
            if ack is None:
                ledger.unacked.append(marker)
            else:
                ledger.acked[marker] = ack
            # Jitter keeps the posters from marching in step.
            pause = self.period_s * random.uniform(0.5, 1.5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)

    async def _post(
        self, client: httpx.AsyncClient, content: str, marker: str, ledger: Ledger
    ) -> Ack | None:
        deadline, delay, attempts = time.monotonic() + self.deadline_s, 0.1, 0
        while time.monotonic() < deadline:
            attempts += 1
            try:
                response = await client.post(
                    f"/api/v1/chat/messages/{self.room_id}",
                    json={"content": content},
                    headers={"Idempotency-Key": marker},
                    timeout=self.post_timeout_s,
                )
            except httpx.TimeoutException:
                ledger.retries["timeout"] += 1
            except httpx.TransportError:
                ledger.retries["connection error"] += 1
            else:
                if response.status_code in (200, 201):
                    body: dict[str, Any] = response.json()
                    return Ack(
                        marker, self.room_id, body["seq"], body["id"], attempts,
                        response.status_code,
                    )  # fmt: skip
                if response.status_code < 500:  # the request itself is wrong: no retry helps
                    raise AssertionError(f"{marker}: HTTP {response.status_code} {response.text}")
                if response.status_code not in RETRYABLE:
                    request_id = response.headers.get("X-Request-ID", "")
                    ledger.errors.append(
                        Unexpected(marker, response.status_code, response.text[:300], request_id)
                    )
                ledger.retries[f"HTTP {response.status_code}"] += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        return None


@dataclass(frozen=True)
class Frame:
    """A stored message as one follower saw it, and on which of its connections."""

    seq: int
    message_id: str
    content: str
    connection: int


@dataclass
class Follower:
    """One WebSocket client of a room that resumes from the last ``seq`` it saw."""

    url: str
    cookie: str
    frames: list[Frame] = field(default_factory=list)
    last_seq: int = 0
    connections: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set it to make the follower drop its socket and resume (e.g. while a service is down).
    reconnect: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the room until ``stop``; reconnect (gently) whenever the socket drops."""
        backoff = 0.1
        while not stop.is_set():
            try:
                async with connect(
                    f"{self.url}?since={self.last_seq}",
                    additional_headers={"Cookie": self.cookie},
                    max_queue=None,
                    open_timeout=10,
                ) as ws:
                    self.connections += 1
                    self.joined.set()
                    backoff = 0.1
                    await self._read(ws, stop)
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                self.drops[type(exc).__name__] += 1
            if not stop.is_set():
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _read(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.reconnect.is_set():
                self.reconnect.clear()
                self.drops["forced reconnect"] += 1
                break
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.25)
            except TimeoutError:
                continue
            frame: dict[str, Any] = json.loads(raw)
            seq = frame.get("seq")
            if frame.get("type") in ("message", "system") and isinstance(seq, int):
                self.frames.append(Frame(seq, frame["id"], frame["content"], self.connections))
                self.last_seq = max(self.last_seq, seq)
        await ws.close()

    def seqs(self) -> list[int]:
        """The sequence numbers in the order they arrived."""
        return [f.seq for f in self.frames]


async def room_history(client: httpx.AsyncClient, room_id: str) -> list[dict[str, Any]]:
    """The whole room through the gateway, page by page (at most 500 a page)."""
    items: list[dict[str, Any]] = []
    since = 0
    while True:
        page = await client.get(
            f"/api/v1/chat/messages/{room_id}", params={"since": since, "limit": 500}
        )
        if page.status_code != 200:
            raise AssertionError(f"history of {room_id}: HTTP {page.status_code} {page.text}")
        batch: list[dict[str, Any]] = page.json()
        items.extend(batch)
        if len(batch) < 500:
            return items
        since = batch[-1]["seq"]
