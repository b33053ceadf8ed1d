"""The due-schedule consumer on a real nats-server: slots in parallel, one slot in order."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import nats
import pytest

from coagent_cli.testing import eventually
from coagent_contracts.streams import TRIGGER
from coagent_contracts.trigger import schedule_target
from coagent_kit.broker import create_broker, ensure_streams, start_broker
from coagent_trigger.due_service import DueService
from coagent_trigger.policies import Firing
from coagent_trigger.schedule_consumer import register_schedule_consumer, slot_of
from coagent_trigger.schedules import DueMessage

pytestmark = pytest.mark.integration

WORKERS = 4
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Recorder:
    """Stands in for :class:`DueService`: records how many calls overlap, overall and per slot.

    A call waits (up to ``wait_s``) until ``WORKERS`` calls are in progress at once, so the
    peak shows how many the consumer lets run together; a ``-slow`` policy's call waits until
    the test releases it.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.running: Counter[str] = Counter()
        self.peak = 0
        self.slot_peak = 0
        self.crowd = asyncio.Event()
        self.release = asyncio.Event()
        self.done: list[DueMessage] = []
        self.wait_s = 3.0

    async def on_due(self, due: DueMessage) -> list[Firing]:
        if not due.policy_id.startswith(self.prefix):
            return []  # an earlier test's schedule, replayed to this new consumer
        slot = slot_of(due)
        self.running[slot] += 1
        self.peak = max(self.peak, sum(self.running.values()))
        self.slot_peak = max(self.slot_peak, self.running[slot])
        if sum(self.running.values()) >= WORKERS:
            self.crowd.set()
        waited = self.release if due.policy_id.endswith("-slow") else self.crowd
        try:
            await asyncio.wait_for(waited.wait(), timeout=self.wait_s)
        except TimeoutError:
            pass
        finally:
            self.running[slot] -= 1
        self.done.append(due)
        return []

    def handled(self, count: int) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            return len(self.done) >= count

        return probe

    def busy(self, slot: str) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            return self.running[slot] > 0

        return probe


@pytest.fixture
async def recorder(nats_url: str) -> AsyncIterator[Recorder]:
    await ensure_streams(nats_url)
    run = uuid.uuid4().hex[:8]
    durable = f"trigger-due-test-{run}"
    recorder = Recorder(f"conc-{run}")
    broker = create_broker(nats_url, "trigger-tests")
    service: DueService = recorder  # type: ignore[assignment]
    register_schedule_consumer(broker, service, workers=WORKERS, durable=durable)
    await start_broker(broker, nats_url, wait_s=2.0)
    yield recorder
    await broker.stop()
    nc = await nats.connect(nats_url)
    await nc.jetstream().delete_consumer(TRIGGER.name, durable)
    await nc.close()


async def _publish(nats_url: str, dues: list[DueMessage]) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for due in dues:
        await js.publish(schedule_target(due.policy_id), due.model_dump_json().encode())
    await nc.close()


def _timers(prefix: str, count: int, suffix: str = "") -> list[DueMessage]:
    return [
        DueMessage(kind="timer", policy_id=f"{prefix}-{i}{suffix}", at=T0) for i in range(count)
    ]


async def test_at_most_the_workers_run_at_once(nats_url: str, recorder: Recorder) -> None:
    await _publish(nats_url, _timers(recorder.prefix, 2 * WORKERS))

    await eventually(recorder.handled(2 * WORKERS), "every due handled", timeout_s=30)
    assert recorder.peak == WORKERS


async def test_a_slow_due_message_does_not_hold_up_the_next_ones(
    nats_url: str, recorder: Recorder
) -> None:
    recorder.wait_s = 10.0
    [slow] = _timers(recorder.prefix, 1, "-slow")
    await _publish(nats_url, [slow])
    await eventually(recorder.busy(slot_of(slow)), "the slow due started", timeout_s=20)

    recorder.crowd.set()  # the others return at once
    await _publish(nats_url, _timers(recorder.prefix, 3))

    await eventually(recorder.handled(3), "the later dues handled", timeout_s=8)
    assert slow not in recorder.done
    recorder.release.set()
    await eventually(recorder.handled(4), "the slow due handled", timeout_s=8)


async def test_due_messages_of_one_slot_are_handled_one_at_a_time(
    nats_url: str, recorder: Recorder
) -> None:
    recorder.wait_s = 0.3  # never crowded: the slot's messages would overlap within this
    policy_id = f"{recorder.prefix}-silence"
    dues = [
        DueMessage(kind="silence", policy_id=policy_id, room_id="r1", at=T0 + timedelta(seconds=i))
        for i in range(3)
    ]
    await _publish(nats_url, dues)

    await eventually(recorder.handled(3), "every due handled", timeout_s=30)
    assert recorder.slot_peak == 1
    assert sorted(d.at for d in recorder.done) == [d.at for d in dues]
