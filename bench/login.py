"""Login throughput: concurrent clients logging in through the gateway (argon2 included)."""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from _common import percentile, save

from coagent_cli.testing import running_fleet

EMAIL, PASSWORD = "bench@example.org", "bench-password-123"


async def _worker(client: httpx.AsyncClient, deadline: float, latencies: list[float]) -> int:
    failures = 0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = await client.post(
            "/api/v1/login/access-token",
            files={"username": (None, EMAIL), "password": (None, PASSWORD)},
        )
        if response.status_code == 200:
            latencies.append(time.perf_counter() - started)
        else:
            failures += 1
    return failures


async def measure(base_url: str, seconds: float, concurrency: int) -> dict[str, float]:
    """Run ``concurrency`` login loops for ``seconds``; return the figures."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        started = time.monotonic()
        failures = await asyncio.gather(
            *(_worker(client, deadline, latencies) for _ in range(concurrency))
        )
        elapsed = time.monotonic() - started
    return {
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "logins": len(latencies),
        "failures": sum(failures),
        "logins_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with running_fleet(EMAIL, PASSWORD) as fleet:
        figures = asyncio.run(measure(fleet.gateway_url, args.seconds, args.concurrency))
    save("login", figures)


if __name__ == "__main__":
    main()
