"""A build holds its command while it runs: heartbeats, one ack at the end, a redelivery
adopted or acked, the command handed back when the process stops or the end cannot be told."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coagent_cli.testing import eventually
from coagent_contracts.envelope import Event
from coagent_contracts.graphrag import GraphBuildProgressV1
from coagent_graphrag_ingest import builds
from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphstore.adapters.memory import MemoryGraphStore
from coagent_kit.delivery import Delivery

from .test_builds import progress, record_room, runtime

#: Heartbeats every 0.1 s.
ACK_WAIT_S = 0.3


class FakeDelivery(Delivery):
    """Records what the build does with its message."""

    def __init__(self, attempt: int = 1) -> None:
        super().__init__()
        self._attempt = attempt
        self.calls: list[str] = []

    @property
    def attempt(self) -> int:
        return self._attempt

    async def in_progress(self) -> None:
        self.calls.append("in_progress")

    async def ack(self) -> None:
        self.calls.append("ack")

    async def nack(self, delay: float | None = None) -> None:
        self.calls.append(f"nack:{delay}")


class EndUntold(MemoryUnitOfWork):
    """An outbox that takes every event but a build's end."""

    async def publish(self, event: Event) -> None:
        if isinstance(event, GraphBuildProgressV1) and event.data.stage == "done":
            raise ConnectionError("outbox unavailable")
        await super().publish(event)


async def holds(condition: Callable[[], bool]) -> bool:
    return condition()


async def test_a_running_build_heartbeats_its_command_and_acks_it_once_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(builds, "ALIVE_EVERY_S", 0.1)
    store, graph = MemoryStore(), MemoryGraphStore()
    await record_room(store)
    ingest = runtime(store, graph, ack_wait=ACK_WAIT_S)
    delivery = FakeDelivery()

    async with ingest.scheduler.exclusive("r1"):  # a pass holds the room: the build waits
        assert await ingest.build("r1", "b-1", delivery)
        await eventually(lambda: holds(lambda: delivery.calls.count("in_progress") >= 3),
                         "heartbeats", 10.0)  # fmt: skip
        assert "ack" not in delivery.calls
    await ingest.builds_idle()

    assert delivery.calls[-1] == "ack"
    assert delivery.calls.count("ack") == 1
    assert not any(c.startswith("nack") for c in delivery.calls)
    events = [e.data for e in progress(store)]
    # While it waited, the build said so again and again (graphrag-query sees it alive).
    assert [e.stage for e in events].count("queued") >= 2
    assert [e.step for e in events] == list(range(1, len(events) + 1))
    assert (events[-1].stage, events[-1].status) == ("done", "succeeded")
    await ingest.close()


async def test_a_redelivered_build_reports_under_its_attempt() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    await record_room(store)
    ingest = runtime(store, graph)

    assert await ingest.build("r1", "b-1", FakeDelivery(attempt=3))
    await ingest.builds_idle()

    events = [e.data for e in progress(store)]
    assert {e.attempt for e in events} == {3}
    assert events[0].step == 1
    assert events[-1].status == "succeeded"
    await ingest.close()


async def test_a_redelivery_of_a_running_build_is_adopted_and_one_of_an_ended_build_acked() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    await record_room(store)
    ingest = runtime(store, graph)
    first, second, late = FakeDelivery(1), FakeDelivery(2), FakeDelivery(3)

    async with ingest.scheduler.exclusive("r1"):
        assert await ingest.build("r1", "b-1", first)
        assert not await ingest.build("r1", "b-1", second)  # not a second run
    await ingest.builds_idle()
    assert (first.calls, second.calls) == ([], ["ack"])  # the latest delivery is the one acked
    assert {e.data.attempt for e in progress(store)} == {1}

    before = len(progress(store))
    assert not await ingest.build("r1", "b-1", late)
    assert late.calls == ["ack"]
    assert len(progress(store)) == before
    await ingest.close()


async def test_stopping_mid_build_hands_the_command_back_without_an_end() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    await record_room(store)
    ingest = runtime(store, graph)
    delivery = FakeDelivery()

    async with ingest.scheduler.exclusive("r1"):
        await ingest.build("r1", "b-1", delivery)
        await eventually(lambda: holds(lambda: len(progress(store)) == 1), "queued", 10.0)
        await ingest.close()

    assert delivery.calls == [f"nack:{builds.STOPPING_HANDBACK_S}"]
    assert [e.data.stage for e in progress(store)] == ["queued"]


async def test_a_build_whose_end_cannot_be_announced_is_retried_later() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    await record_room(store)
    ingest = runtime(store, graph, unit_of_work=EndUntold)
    delivery = FakeDelivery()

    await ingest.build("r1", "b-1", delivery)
    await ingest.builds_idle()

    assert delivery.calls == [f"nack:{builds.RETRY_AFTER_S}"]
    assert await ingest.build("r1", "b-1", FakeDelivery(2))  # not taken as ended: runs again
    await ingest.close()


async def test_a_stopping_process_hands_new_build_commands_back_for_another_process() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    await record_room(store)
    ingest = runtime(store, graph)
    running, arriving = FakeDelivery(), FakeDelivery(2)

    async with ingest.scheduler.exclusive("r1"):
        await ingest.build("r1", "b-1", running)
        await eventually(lambda: holds(lambda: len(progress(store)) == 1), "queued", 10.0)
        await ingest.stop_builds()
        # Its own hand-back (or another build) reaching it while it stops is passed on.
        assert not await ingest.build("r1", "b-1", arriving)

    assert running.calls == [f"nack:{builds.STOPPING_HANDBACK_S}"]
    assert arriving.calls == [f"nack:{builds.STOPPING_HANDBACK_S}"]
    assert [e.data.stage for e in progress(store)] == ["queued"]
    await ingest.close()


async def test_a_build_stopped_before_it_began_hands_its_command_back_too() -> None:
    store, graph = MemoryStore(), MemoryGraphStore()
    ingest = runtime(store, graph)
    delivery = FakeDelivery()

    await ingest.build("r1", "b-1", delivery)
    await ingest.stop_builds()  # the build task never got to run

    assert delivery.calls == [f"nack:{builds.STOPPING_HANDBACK_S}"]
    assert progress(store) == []
    await ingest.close()
