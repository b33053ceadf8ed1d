"""Timer firings survive repeated kill -9 of the trigger service: no duplicate, no loss.

The issue's criterion, by default: 1,000 timer firings. Fifty timer policies (3 s interval, an
end time twenty instants after their creation, about 17 firings/s together) tick at once, five
per workflow. While they tick, the trigger service is killed with SIGKILL and restarted twice.
Afterwards every policy's firing log holds exactly the instants its interval defines between its
creation and its end (none missed while the service was down: the schedules live in
JetStream, and late instants within the grace still fire), each once, and the workflow engine
holds exactly one run per firing key. ``COAGENT_TRIGGER_FAULT_FIRINGS`` sets another number
of firings.

The rate is what a loaded 2-core machine sustains while the engine also runs every firing: an
instant handled more than the misfire grace (60 s) late is dropped by design, so a rate the
machine cannot keep up with shows as lost firings (the failure message counts those).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from coagent_cli.fleet import SERVICES, Fleet
from coagent_cli.testing import eventually, running_fleet
from coagent_contracts.streams import TRIGGER
from coagent_contracts.trigger import TriggerFiredV1, firing_key

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

FIRINGS = int(os.environ.get("COAGENT_TRIGGER_FAULT_FIRINGS", "1000"))
INTERVAL_MINS = 0.05  # 3 s, the shortest the contract allows
FIRINGS_PER_POLICY = 20
POLICIES = max(1, math.ceil(FIRINGS / FIRINGS_PER_POLICY))
#: The engine lists at most 100 runs of a workflow per page.
POLICIES_PER_WORKFLOW = 5
CREATORS = 8  # policies created concurrently
KILLS = 2
DOWN_S = 1.0
#: After the last instant: time for the backlog of the last restart, and for a due message the
#: killed process had fetched to come back after its ack wait.
SETTLE_S = 60.0
POLL_S = 2.0


@pytest.fixture(scope="module")
def fault_fleet() -> Iterator[Fleet]:
    """A fleet of its own: killing trigger must not disturb the session's other e2e tests."""
    with running_fleet(ADMIN_EMAIL, ADMIN_PASSWORD) as running:
        yield running


async def _workflow(api: httpx.AsyncClient, index: int) -> str:
    graph = {
        "schema_version": 1,
        "nodes": [{"id": "start", "type": "start"}, {"id": "end", "type": "end"}],
        "edges": [{"id": "e1", "source": "start", "target": "end"}],
    }
    response = await api.post(
        "/api/v1/workflows", json={"name": f"tick-{index}", "graph_data": graph}
    )
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["id"]
    return workflow_id


async def _timer(api: httpx.AsyncClient, workflow_id: str) -> tuple[dict[str, Any], datetime]:
    """A ticking policy ending ``FIRINGS_PER_POLICY`` intervals after its creation.

    The end is 0.9 of an interval past the last intended instant, measured from before the
    request: as long as the server creates the policy within that margin, it has exactly
    ``FIRINGS_PER_POLICY`` instants.
    """
    interval = timedelta(minutes=INTERVAL_MINS)
    end_at = datetime.now().astimezone() + interval * (FIRINGS_PER_POLICY + 0.9)
    response = await api.post(
        "/api/v1/triggers",
        json={
            "name": "tick",
            "event_type": "timer",
            # ``allow``: every firing starts a run even while the previous one is going.
            "conditions": {
                "interval_mins": INTERVAL_MINS,
                "end_at": end_at.isoformat(),
                "overlap": "allow",
            },
            "target_workflow_id": workflow_id,
            "is_active": True,
        },
    )
    assert response.status_code == 201, response.text
    policy: dict[str, Any] = response.json()
    return policy, end_at


async def _create_all(
    api: httpx.AsyncClient,
) -> list[tuple[dict[str, Any], datetime, str]]:
    """Every workflow, then every policy, ``CREATORS`` requests at a time."""
    gate = asyncio.Semaphore(CREATORS)

    async def limited(make: Any) -> Any:
        async with gate:
            return await make

    workflows = math.ceil(POLICIES / POLICIES_PER_WORKFLOW)
    workflow_ids = await asyncio.gather(*(limited(_workflow(api, i)) for i in range(workflows)))
    targets = [workflow_ids[i // POLICIES_PER_WORKFLOW] for i in range(POLICIES)]
    timers = await asyncio.gather(*(limited(_timer(api, wf)) for wf in targets))
    return [(policy, end_at, wf) for (policy, end_at), wf in zip(timers, targets, strict=True)]


def _expected_keys(policy: dict[str, Any], end_at: datetime) -> set[str]:
    """Every instant the policy's interval defines (created_at + k·interval, k ≥ 1) up to its
    end."""
    created = datetime.fromisoformat(policy["created_at"])
    interval = timedelta(minutes=INTERVAL_MINS)
    keys, k = set(), 1
    while (instant := created + k * interval) <= end_at:
        keys.add(firing_key(policy["id"], scheduled_for=instant))
        k += 1
    return keys


async def _kill_repeatedly(fleet: Fleet, until: float) -> list[float]:
    """Kill -9 and restart trigger ``KILLS`` times, evenly spread before ``until``."""
    downtimes: list[float] = []
    pause = max(1.0, (until - time.monotonic()) / (KILLS + 1))
    for _ in range(KILLS):
        await asyncio.sleep(pause)
        started = time.monotonic()
        await asyncio.to_thread(fleet.kill, "trigger")
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(fleet.restart, "trigger")
        await asyncio.to_thread(fleet.wait_ready, 90.0)
        downtimes.append(time.monotonic() - started)
    return downtimes


@pytest.mark.timeout(600)
async def test_timer_firings_survive_kill_9_of_the_trigger_service(fault_fleet: Fleet) -> None:
    with httpx.Client(base_url=fault_fleet.gateway_url, timeout=30) as api:
        login(api, ADMIN_EMAIL, ADMIN_PASSWORD)
        cookie = f"access_token={api.cookies.get('access_token', path='/')}"
    headers = {"Cookie": cookie}
    async with httpx.AsyncClient(
        base_url=fault_fleet.gateway_url, timeout=60, headers=headers
    ) as client:
        created = await _create_all(client)
        ticking_until = time.monotonic() + max(
            0.0, max(end_at for _, end_at, _ in created).timestamp() - time.time()
        )
        expected = {p["id"]: _expected_keys(p, end_at) for p, end_at, _ in created}
        total = sum(len(keys) for keys in expected.values())
        downtimes = await _kill_repeatedly(fault_fleet, ticking_until)
        nats_url = fault_fleet.env_for(SERVICES[0])["COAGENT_NATS_URL"]
        found = await _all_logged(client, fault_fleet.log_dir, nats_url, expected, ticking_until)
        assert found == expected, "every instant fired, none twice, none extra"
        runs = await _all_runs(client, created, total)
    by_policy = {p["id"]: wf for p, _, wf in created}
    for workflow_id, keys in runs.items():
        assert len(keys) == len(set(keys)), "two runs for one firing"
        wanted = set().union(*(expected[p] for p, wf in by_policy.items() if wf == workflow_id))
        assert set(keys) == wanted
    assert len(downtimes) == KILLS
    assert total >= FIRINGS, f"only {total} instants intended: policies were created too slowly"


async def _logged(client: httpx.AsyncClient, policy_ids: list[str]) -> dict[str, set[str]]:
    """Every policy's logged firing keys (each must be ``fired``, none twice)."""

    async def one(policy_id: str) -> tuple[str, set[str]]:
        response = await client.get(f"/api/v1/triggers/{policy_id}/firings", params={"limit": 500})
        assert response.status_code == 200, response.text
        rows = response.json()
        keys = [row["firing_key"] for row in rows]
        assert len(keys) == len(set(keys)), "a firing key logged twice"
        assert all(row["outcome"] == "fired" for row in rows)
        return policy_id, set(keys)

    gate = asyncio.Semaphore(CREATORS)

    async def limited(policy_id: str) -> tuple[str, set[str]]:
        async with gate:
            return await one(policy_id)

    return dict(await asyncio.gather(*(limited(p) for p in policy_ids)))


async def _fired_on_jetstream(nats_url: str) -> int:
    """How many ``trigger fired`` events the TRIGGER stream holds (one request, however many
    policies: the firing logs are read once this says everything has fired)."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(TRIGGER.name, subjects_filter=TriggerFiredV1.FILTER)
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()


def _missed_in_log(log_dir: Path) -> int:
    """How many instants trigger dropped as missed (its ``timer_instants_missed`` warnings)."""
    skipped = 0
    log = log_dir / "trigger.log"
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        if "timer_instants_missed" in line and (found := re.search(r"skipped\W+(\d+)", line)):
            skipped += int(found.group(1))
    return skipped


async def _all_logged(
    client: httpx.AsyncClient,
    log_dir: Path,
    nats_url: str,
    expected: dict[str, set[str]],
    ticking_until: float,
) -> dict[str, set[str]]:
    total = sum(map(len, expected.values()))

    async def published() -> int | None:
        await asyncio.sleep(POLL_S)
        count = await _fired_on_jetstream(nats_url)
        return count if count >= total else None

    wait_s = max(0.0, ticking_until - time.monotonic()) + SETTLE_S
    with contextlib.suppress(AssertionError):  # the firing logs below say what is missing
        await eventually(published, f"{total} firings published", timeout_s=wait_s)
    found = await _logged(client, list(expected))
    missing = {p: sorted(expected[p] - found[p]) for p in expected if expected[p] - found[p]}
    if missing:
        # Where in each policy's span the lost instants were (1 = its first instant).
        positions = Counter(
            sorted(expected[p]).index(key) + 1 for p, keys in missing.items() for key in keys
        )
        lost = sum(map(len, missing.values()))
        late = _missed_in_log(log_dir)
        raise AssertionError(
            f"{lost} of {total} firings never logged; by position {positions}; trigger logged"
            f" {late} instants as older than the misfire grace (too slow to keep up)"
        )
    return found


async def _all_runs(
    client: httpx.AsyncClient, created: list[tuple[dict[str, Any], datetime, str]], total: int
) -> dict[str, list[str]]:
    """Every workflow's runs, as the firing keys that started them."""
    workflow_ids = sorted({wf for _, _, wf in created})

    async def one(workflow_id: str) -> tuple[str, list[str]]:
        response = await client.get(f"/api/v1/workflows/{workflow_id}/runs", params={"limit": 100})
        assert response.status_code == 200, response.text
        return workflow_id, [r["trigger"]["firing_key"] for r in response.json()]

    async def complete() -> dict[str, list[str]] | None:
        await asyncio.sleep(POLL_S)
        runs = dict(await asyncio.gather(*(one(wf) for wf in workflow_ids)))
        return runs if sum(map(len, runs.values())) >= total else None

    return await eventually(complete, f"{total} runs", timeout_s=SETTLE_S)
