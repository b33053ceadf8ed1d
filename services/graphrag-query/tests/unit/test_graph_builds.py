"""Build requests: single flight per room, progress folded in order, stale builds replaced."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from coagent_contracts.graphrag import (
    GraphBuildProgressData,
    GraphBuildProgressV1,
    GraphBuildRequestedV1,
)
from coagent_graphrag_query.adapters.graph_builds import MemoryGraphBuildStore
from coagent_graphrag_query.graph_builds import STALE_ERROR, BuildRequestFailed, GraphBuilds


class Commands:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[GraphBuildRequestedV1] = []
        self.fail = fail

    async def __call__(self, command: GraphBuildRequestedV1) -> None:
        if self.fail:
            raise ConnectionError("no broker")
        self.sent.append(command)


def progressed(build_id: str, step: int, stage: str = "ingest", status: str = "running",
               **more: object) -> GraphBuildProgressV1:  # fmt: skip
    return GraphBuildProgressV1.model_validate({
        "producer": "graphrag-ingest",
        "data": GraphBuildProgressData.model_validate({
            "room_id": "r1", "build_id": build_id, "step": step, "stage": stage,
            "status": status, **more,
        }),
    })  # fmt: skip


async def test_a_second_request_while_one_runs_returns_the_running_build() -> None:
    commands = Commands()
    builds = GraphBuilds(MemoryGraphBuildStore(), commands)

    first, created = await builds.request("r1", "u-1")
    again, created_again = await builds.request("r1", "u-2")

    assert (created, created_again) == (True, False)
    assert again.build_id == first.build_id
    assert [c.data.build_id for c in commands.sent] == [first.build_id]
    assert commands.sent[0].data.requested_by == "u-1"
    other, created_other = await builds.request("r2", "u-1")
    assert created_other
    assert other.build_id != first.build_id


async def test_progress_is_folded_in_step_order_and_a_finished_build_frees_the_room() -> None:
    commands = Commands()
    builds = GraphBuilds(MemoryGraphBuildStore(), commands)
    build, _ = await builds.request("r1", None)

    assert await builds.record(progressed(build.build_id, 2, "reports", done=1, total=4))
    assert not await builds.record(progressed(build.build_id, 1, "ingest"))  # late: ignored
    assert not await builds.record(progressed("another", 5, "ingest"))
    current = await builds.current("r1")
    assert current is not None
    assert (current.stage, current.status, current.progress) == ("reports", "running", 0.625)

    await builds.record(progressed(build.build_id, 3, "done", "succeeded", communities=4))
    done = await builds.current("r1")
    assert done is not None
    assert (done.status, done.progress, done.communities) == ("succeeded", 1.0, 4)
    assert not done.active
    _, created = await builds.request("r1", None)
    assert created


async def test_a_rerun_takes_over_and_late_events_of_the_first_run_are_ignored() -> None:
    builds = GraphBuilds(MemoryGraphBuildStore(), Commands())
    build, _ = await builds.request("r1", None)
    bid = build.build_id

    assert await builds.record(progressed(bid, 3, "reports", done=2, total=8))
    # The ingest process died; the redelivered command runs again, numbering steps from 1.
    assert await builds.record(progressed(bid, 1, "queued", attempt=2))
    rerun = await builds.current("r1")
    assert rerun is not None
    assert (rerun.attempt, rerun.step, rerun.stage, rerun.status) == (2, 1, "queued", "running")
    assert rerun.active
    # An event of the first run relayed late does not rewind the rerun.
    assert not await builds.record(progressed(bid, 4, "reports", done=3, total=8))
    assert not await builds.record(progressed(bid, 1, "queued", attempt=2))  # a duplicate
    assert await builds.record(progressed(bid, 2, "ingest", attempt=2))
    assert await builds.record(progressed(bid, 5, "done", "succeeded", attempt=2, communities=3))
    done = await builds.current("r1")
    assert done is not None
    assert (done.attempt, done.status, done.communities) == (2, "succeeded", 3)


async def test_events_without_an_attempt_are_the_first_run() -> None:
    builds = GraphBuilds(MemoryGraphBuildStore(), Commands())
    build, _ = await builds.request("r1", None)

    assert await builds.record(progressed(build.build_id, 1, "queued", attempt=2))
    assert not await builds.record(progressed(build.build_id, 9, "done", "succeeded"))
    current = await builds.current("r1")
    assert current is not None
    assert (current.attempt, current.status) == (2, "running")


async def test_a_build_that_stopped_reporting_is_failed_and_replaced() -> None:
    store = MemoryGraphBuildStore()
    builds = GraphBuilds(store, Commands(), stale_after_s=60)
    build, _ = await builds.request("r1", None)
    old = datetime.now(UTC) - timedelta(minutes=5)
    store.builds["r1"] = replace(build, updated_at=old)

    seen = await builds.current("r1")
    assert seen is not None
    assert (seen.status, seen.error) == ("failed", STALE_ERROR)
    fresh, created = await builds.request("r1", None)
    assert created
    assert fresh.build_id != build.build_id


async def test_a_request_that_cannot_be_sent_fails_clearly_and_frees_the_room() -> None:
    store = MemoryGraphBuildStore()
    with pytest.raises(BuildRequestFailed) as raised:
        await GraphBuilds(store, Commands(fail=True)).request("r1", None)
    assert (raised.value.status, raised.value.code) == (503, "graph_build_unavailable")
    failed = store.builds["r1"]
    assert failed.status == "failed"
    assert "no broker" in (failed.error or "")
    _, created = await GraphBuilds(store, Commands()).request("r1", None)
    assert created
