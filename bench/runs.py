"""Workflow runs: trivial-graph runs/s of one engine process, and where a run's time goes.

The graph is start → one offline agent → end. Each run is fired as the trigger service fires
one (a ``TriggerFiredV1`` published on JetStream, in a room of its own) by ``C`` closed-loop
clients: fire, wait for the run's ``completed`` event, fire again, for ``--seconds``. For every
run: trigger-to-run-start (publish → the ``RunStartedV1``'s ``occurred_at``, stamped as the
worker begins executing) and run-start-to-first-token (→ the first ``message_delta`` frame of
the room on core NATS). Runs/s counts runs completed in the round.

One engine process runs ``--workers`` runs at once (``WORKFLOW_ENGINE_WORKER_CONCURRENCY``);
with more concurrent runs than workers, the rest wait in the queue, which shows as
trigger-to-run-start latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats
import psutil
from _common import percentile, save
from nats.aio.client import Client
from nats.aio.msg import Msg

from coagent_cli.fleet import SERVICES
from coagent_cli.testing import running_fleet
from coagent_contracts.envelope import new_event_id
from coagent_contracts.trigger import TriggerFiredData, TriggerFiredV1, firing_key
from coagent_contracts.workflow import RunCompletedV1, RunStartedV1
from coagent_kit.broker import event_headers

EMAIL, PASSWORD = "bench@example.org", "bench-password-123"
POLICY = "bench-policy"
RUN_TIMEOUT_S = 120.0


@dataclass
class Probe:
    """One fired run, keyed by its room."""

    fired_at: float
    started_at: float | None = None
    first_token_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Round:
    probes: dict[str, Probe] = field(default_factory=dict)
    timeouts: int = 0

    async def on_started(self, msg: Msg) -> None:
        event = RunStartedV1.model_validate_json(msg.data)
        probe = self.probes.get(event.data.room_id or "")
        if probe is not None and probe.started_at is None:
            probe.started_at = event.occurred_at.timestamp()

    async def on_live(self, msg: Msg) -> None:
        probe = self.probes.get(msg.subject.rsplit(".", 1)[-1])
        if probe is None or probe.first_token_at is not None:
            return
        if json.loads(msg.data).get("type") == "message_delta":
            probe.first_token_at = time.time()

    async def on_completed(self, msg: Msg) -> None:
        event = RunCompletedV1.model_validate_json(msg.data)
        probe = self.probes.get(event.data.room_id or "")
        if probe is not None:
            probe.done.set()


def _setup(base_url: str) -> dict[str, str]:
    """Log in; create the offline agent and the trivial workflow; who owns them."""
    with httpx.Client(base_url=base_url, timeout=60) as api:
        login = api.post(
            "/api/v1/login/access-token",
            files={"username": (None, EMAIL), "password": (None, PASSWORD)},
        )
        login.raise_for_status()
        me = api.get("/api/v1/users/me").json()
        agent = api.post(
            "/api/v1/agents/global",
            json={"name": "Bench", "type": "teacher", "model_provider": "offline"},
        )
        agent.raise_for_status()
        graph = {
            "schema_version": 1,
            "nodes": [
                {"id": "start", "type": "start"},
                {"id": "agent", "type": "agent", "config": {"agent_id": agent.json()["id"]}},
                {"id": "end", "type": "end"},
            ],
            "edges": [
                {"id": "e1", "source": "start", "target": "agent"},
                {"id": "e2", "source": "agent", "target": "end"},
            ],
        }
        workflow = api.post("/api/v1/workflows", json={"name": "bench", "graph_data": graph})
        workflow.raise_for_status()
        return {"workflow_id": workflow.json()["id"], "owner_id": me["id"], "role": me["role"]}


def _firing(ids: dict[str, str], room: str) -> TriggerFiredV1:
    source = new_event_id()
    return TriggerFiredV1(
        producer="bench",
        data=TriggerFiredData(
            policy_id=POLICY,
            workflow_id=ids["workflow_id"],
            room_id=room,
            event_type="user_message",
            firing_key=firing_key(POLICY, source_event_id=source),
            source_event_id=source,
            payload={"content": "What is a prime number?"},
            owner_id=ids["owner_id"],
            owner_role=ids["role"],
        ),
    )


async def _client(nc: Client, ids: dict[str, str], state: Round, deadline: float) -> None:
    js = nc.jetstream()
    while time.monotonic() < deadline:
        room = f"bench-{uuid.uuid4().hex[:12]}"
        event = _firing(ids, room)
        probe = state.probes[room] = Probe(fired_at=time.time())
        await js.publish(
            event.subject, event.model_dump_json().encode(), headers=event_headers(event)
        )
        try:
            await asyncio.wait_for(probe.done.wait(), RUN_TIMEOUT_S)
        except TimeoutError:
            state.timeouts += 1


def engine_process() -> psutil.Process:
    """The fleet's workflow-engine process (a child of this one)."""
    for child in psutil.Process().children(recursive=True):
        if "coagent_workflow_engine" in " ".join(child.cmdline()):
            return child
    raise RuntimeError("no workflow-engine process under this one")


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _ms(values: list[float], q: float) -> float:
    return round(percentile(sorted(values), q) * 1000, 1)


async def measure(
    nats_url: str, ids: dict[str, str], concurrency: int, seconds: float
) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    state = Round()
    await nc.subscribe("workflow.run.*.started.v1", cb=state.on_started)
    await nc.subscribe("workflow.run.*.completed.v1", cb=state.on_completed)
    await nc.subscribe("live.room.*", cb=state.on_live)
    engine = engine_process()
    cpu_before, started = _cpu_s(engine), time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(_client(nc, ids, state, deadline) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    engine_cpu = _cpu_s(engine) - cpu_before
    await nc.close()
    done = [p for p in state.probes.values() if p.done.is_set()]
    to_start = [p.started_at - p.fired_at for p in done if p.started_at is not None]
    to_token = [
        p.first_token_at - p.started_at
        for p in done
        if p.started_at is not None and p.first_token_at is not None
    ]
    return {
        "concurrent_runs": concurrency,
        "seconds": round(elapsed, 2),
        "runs_completed": len(done),
        "runs_timed_out": state.timeouts,
        "runs_per_s": round(len(done) / elapsed, 2),
        # CPU the engine spent per run, and how busy the machine was (shared with other work).
        "engine_cpu_ms_per_run": round(engine_cpu * 1000 / max(len(done), 1), 1),
        "engine_cpu_percent_of_one_core": round(engine_cpu * 100 / elapsed, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "trigger_to_start_p50_ms": _ms(to_start, 0.5),
        "trigger_to_start_p99_ms": _ms(to_start, 0.99),
        "start_to_first_token_p50_ms": _ms(to_token, 0.5),
        "start_to_first_token_p99_ms": _ms(to_token, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", default="1,10,100", help="concurrent runs per round")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each round")
    parser.add_argument("--workers", type=int, default=32, help="runs one engine executes at once")
    args = parser.parse_args()
    os.environ["WORKFLOW_ENGINE_WORKER_CONCURRENCY"] = str(args.workers)
    rounds = []
    with running_fleet(EMAIL, PASSWORD) as fleet:
        ids = _setup(fleet.gateway_url)
        nats_url = fleet.env_for(SERVICES[0])["COAGENT_NATS_URL"]
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            rounds.append(asyncio.run(measure(nats_url, ids, concurrency, args.seconds)))
    save("runs", {"engine_workers": args.workers, "rounds": rounds})


if __name__ == "__main__":
    main()
