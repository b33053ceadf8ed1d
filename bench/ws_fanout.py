"""WebSocket fan-out: N clients in one room, one poster at a steady rate.

Prints, per N, delivered messages/s and post-to-delivery latency (p50/p99): the time from the
poster's ``send`` on its socket to each client receiving the frame, through the gateway, the chat
service, PostgreSQL, the outbox relay and JetStream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx
from _common import percentile, save
from websockets.asyncio.client import ClientConnection, connect

from coagent_cli.testing import running_fleet

EMAIL, PASSWORD = "bench@example.org", "bench-password-123"


def _login_and_room(base_url: str) -> tuple[str, str]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.post(
            "/api/v1/login/access-token",
            files={"username": (None, EMAIL), "password": (None, PASSWORD)},
        ).raise_for_status()
        course = client.post("/api/v1/courses/", json={"title": "Bench", "description": ""})
        course.raise_for_status()
        room = client.post(
            "/api/v1/rooms/", json={"name": "Fan-out", "course_id": course.json()["id"]}
        )
        room.raise_for_status()
        return f"access_token={client.cookies.get('access_token', path='/')}", room.json()["id"]


async def _listen(
    ws: ClientConnection, run: str, latencies: list[float], stop: asyncio.Event
) -> int:
    received, marker = 0, f'"content":"bench:{run}:'
    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(ws.recv(), 0.5)
        except TimeoutError:
            continue
        # A substring search instead of json.loads: the client must not be the bottleneck.
        text = raw if isinstance(raw, str) else raw.decode()
        start = text.find(marker)
        if start >= 0:
            end = text.index('"', start + len(marker))
            latencies.append(time.perf_counter() - float(text[start + len(marker) : end]))
            received += 1
    return received


async def measure(
    url: str, cookie: str, clients: int, rate: float, seconds: float
) -> dict[str, Any]:
    """One round: ``clients`` sockets, ``rate`` posts/s for ``seconds``."""
    run = f"n{clients}"
    headers = {"Cookie": cookie}
    sockets = [
        await connect(url, additional_headers=headers, max_queue=None) for _ in range(clients)
    ]
    poster = await connect(url, additional_headers=headers)
    latencies: list[float] = []
    stop = asyncio.Event()
    listeners = [asyncio.create_task(_listen(ws, run, latencies, stop)) for ws in sockets]
    await asyncio.sleep(1.0)  # every socket has joined the room's live fan-out
    sent, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        await poster.send(f"bench:{run}:{time.perf_counter()}")
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
    await asyncio.sleep(3.0)  # drain
    stop.set()
    received = sum(await asyncio.gather(*listeners))
    elapsed = time.monotonic() - started
    for ws in [*sockets, poster]:
        await ws.close()
    return {
        "clients": clients,
        "posted": sent,
        "expected_deliveries": sent * clients,
        "delivered": received,
        "delivered_per_s": round(received / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default="10,100,500")
    parser.add_argument("--rate", type=float, default=20.0, help="posts per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rounds = []
    with running_fleet(EMAIL, PASSWORD) as fleet:
        cookie, room_id = _login_and_room(fleet.gateway_url)
        url = fleet.gateway_url.replace("http://", "ws://") + f"/api/v1/chat/ws/{room_id}"
        for n in (int(x) for x in args.clients.split(",")):
            rounds.append(asyncio.run(measure(url, cookie, n, args.rate, args.seconds)))
            print(json.dumps(rounds[-1]))
    save("ws_fanout", {"rate_per_s": args.rate, "seconds": args.seconds, "rounds": rounds})


if __name__ == "__main__":
    main()
