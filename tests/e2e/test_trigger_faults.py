"""Timer firings survive repeated kill -9 of the trigger service: no duplicate, no loss.

Timer policies (3 s interval, an end time) each target a workflow of
their own. While they tick, the trigger service is killed with SIGKILL and restarted several
times. Afterwards every policy's firing log holds exactly the instants its interval defines
between its creation and its end (none missed while the service was down: the schedules live
in JetStream and late instants within the grace still fire), each once, and the workflow engine
holds exactly one run per firing key.

The default is a few hundred firings so the test stays quick on a small machine; set
``COAGENT_TRIGGER_FAULT_FIRINGS=1000`` for the full thousand of the acceptance criterion (about
a minute of ticking plus the fleet start).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from coagent_cli.fleet import Fleet
from coagent_cli.testing import eventually, running_fleet
from coagent_contracts.trigger import firing_key

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

FIRINGS = int(os.environ.get("COAGENT_TRIGGER_FAULT_FIRINGS", "300"))
INTERVAL_MINS = 0.05  # 3 s, the shortest the contract allows
FIRINGS_PER_POLICY = 15
POLICIES = max(1, round(FIRINGS / FIRINGS_PER_POLICY))
KILLS = 3
DOWN_S = 1.0
SETTLE_S = 120.0  # after the end: an unacked due message waits out its 30 s ack wait


@pytest.fixture(scope="module")
def fault_fleet() -> Iterator[Fleet]:
    """A fleet of its own: killing trigger must not disturb the session's other e2e tests."""
    with running_fleet(ADMIN_EMAIL, ADMIN_PASSWORD) as running:
        yield running


def _workflow(api: httpx.Client, index: int) -> str:
    graph = {
        "schema_version": 1,
        "nodes": [{"id": "start", "type": "start"}, {"id": "end", "type": "end"}],
        "edges": [{"id": "e1", "source": "start", "target": "end"}],
    }
    response = api.post("/api/v1/workflows", json={"name": f"tick-{index}", "graph_data": graph})
    assert response.status_code == 201, response.text
    workflow_id: str = response.json()["id"]
    return workflow_id


def _timer(api: httpx.Client, workflow_id: str, span: timedelta) -> tuple[dict[str, Any], datetime]:
    """A ticking policy ending ``span`` from now (about ``FIRINGS_PER_POLICY`` instants)."""
    end_at = datetime.now().astimezone() + span
    response = api.post(
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
        span = timedelta(minutes=INTERVAL_MINS * FIRINGS_PER_POLICY)
        workflows = [_workflow(api, i) for i in range(POLICIES)]
        created = [(*_timer(api, wf, span), wf) for wf in workflows]
    ticking_until = time.monotonic() + span.total_seconds()

    policies = [(policy, wf) for policy, _, wf in created]
    expected = {p["id"]: _expected_keys(p, end_at) for p, end_at, _ in created}
    total = sum(len(keys) for keys in expected.values())
    downtimes = await _kill_repeatedly(fault_fleet, ticking_until)

    headers = {"Cookie": cookie}
    async with httpx.AsyncClient(
        base_url=fault_fleet.gateway_url, timeout=30, headers=headers
    ) as client:

        async def logged() -> dict[str, set[str]]:
            found: dict[str, set[str]] = {}
            for policy, _ in policies:
                response = await client.get(
                    f"/api/v1/triggers/{policy['id']}/firings", params={"limit": 500}
                )
                assert response.status_code == 200, response.text
                rows = response.json()
                keys = [row["firing_key"] for row in rows]
                assert len(keys) == len(set(keys)), "a firing key logged twice"
                assert all(row["outcome"] == "fired" for row in rows)
                found[policy["id"]] = set(keys)
            return found

        async def all_logged() -> dict[str, set[str]] | None:
            found = await logged()
            return found if sum(map(len, found.values())) >= total else None

        wait_s = max(0.0, ticking_until - time.monotonic()) + SETTLE_S
        try:
            found = await eventually(all_logged, f"{total} firings logged", timeout_s=wait_s)
        except AssertionError:
            found = await logged()
            missing = sum(len(expected[p] - found[p]) for p in expected)
            raise AssertionError(f"{missing} of {total} firings never logged") from None
        assert found == expected, "every instant fired, none twice, none extra"

        async def all_runs() -> dict[str, list[str]] | None:
            runs: dict[str, list[str]] = {}
            for policy, workflow_id in policies:
                response = await client.get(
                    f"/api/v1/workflows/{workflow_id}/runs", params={"limit": 100}
                )
                assert response.status_code == 200, response.text
                runs[policy["id"]] = [r["trigger"]["firing_key"] for r in response.json()]
            done = sum(map(len, runs.values())) >= total
            return runs if done else None

        runs = await eventually(all_runs, f"{total} runs", timeout_s=SETTLE_S)
        for policy_id, keys in runs.items():
            assert len(keys) == len(set(keys)), "two runs for one firing"
            assert set(keys) == expected[policy_id]
    assert len(downtimes) == KILLS
    assert total >= 0.9 * POLICIES * FIRINGS_PER_POLICY, "the run covered the intended firings"
