"""Shutdown steps end by their deadline and name what was still running."""

from __future__ import annotations

import asyncio
import time

from structlog.testing import capture_logs

from coagent_kit.shutdown import run_step


async def test_a_step_that_finishes_in_time_reports_success() -> None:
    assert await run_step("quick", asyncio.sleep(0.01), deadline_s=1.0)


async def test_an_overrunning_step_is_cancelled_and_the_waiting_tasks_are_logged() -> None:
    release = asyncio.Event()

    async def stuck_handler() -> None:
        await release.wait()

    handler = asyncio.create_task(stuck_handler(), name="stuck-handler")
    started = time.monotonic()
    with capture_logs() as logs:
        finished = await run_step("broker", release.wait(), deadline_s=0.2)
    elapsed = time.monotonic() - started
    release.set()
    await handler

    assert not finished
    assert elapsed < 1.0
    (record,) = [entry for entry in logs if entry["event"] == "shutdown_step_overran"]
    assert record["step"] == "broker"
    assert any(
        line.startswith("stuck-handler: ") and "stuck_handler" in line for line in record["pending"]
    )


async def test_a_failing_step_is_logged_and_does_not_raise() -> None:
    async def failing() -> None:
        raise RuntimeError("pool already closed")

    with capture_logs() as logs:
        finished = await run_step("engine", failing(), deadline_s=1.0)

    assert not finished
    assert [entry["step"] for entry in logs if entry["event"] == "shutdown_step_failed"] == [
        "engine"
    ]
