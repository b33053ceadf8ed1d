"""JetStream consumer metrics: queue depth, ack-pending and redeliveries per durable consumer.

Two sources:

* :class:`ConsumerInfoPoller` reads the server's consumer info of every durable consumer of a
  broker on an interval (one per service process, started by the messaging lifespan). The values
  are exported by one process-wide collector, so several apps running in one process (tests)
  never register a metric twice. Every replica of a service reports the same consumer: graph
  them with ``max by (consumer)``, not ``sum``.
* :class:`RedeliveryMiddleware` counts the messages handed to a handler again (delivery count
  above one), labelled by consumer.

A failed read never breaks a scrape: the last values stay, the error is counted, and
``coagent_jetstream_consumer_info_age_seconds`` tells how old they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from faststream import BaseMiddleware
from faststream.nats import NatsBroker
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from coagent_kit.logging import get_logger

log = get_logger(__name__)

#: Seconds between two reads of the consumer info: a fraction of a typical scrape interval's
#: worth of staleness, and a handful of cheap requests per process.
POLL_INTERVAL_S = 15.0
READ_TIMEOUT_S = 2.0

REDELIVERIES = Counter(
    "coagent_jetstream_redeliveries_total",
    "Messages handed to a handler again (JetStream delivery count above one)",
    ["consumer"],
)
CONSUMER_INFO_ERRORS = Counter(
    "coagent_jetstream_consumer_info_errors_total",
    "Failed reads of a durable consumer's info from the server",
    ["service", "consumer", "reason"],
)

_GAUGES = {
    "pending": (
        "coagent_jetstream_consumer_num_pending",
        "Messages of the consumer's stream not yet delivered to it (queue depth)",
    ),
    "ack_pending": (
        "coagent_jetstream_consumer_num_ack_pending",
        "Messages delivered to the consumer and not yet acknowledged",
    ),
    "redelivered": (
        "coagent_jetstream_consumer_num_redelivered",
        "Messages delivered more than once and not yet acknowledged",
    ),
    "age_s": (
        "coagent_jetstream_consumer_info_age_seconds",
        "Seconds since the consumer's info was last read successfully",
    ),
}
_LABELS = ["service", "stream", "consumer"]


@dataclass(frozen=True)
class ConsumerState:
    """One consumer's counters as last read from the server."""

    service: str
    stream: str
    consumer: str
    pending: int
    ack_pending: int
    redelivered: int
    read_at: float

    def value(self, key: str, now: float) -> float:
        return max(now - self.read_at, 0.0) if key == "age_s" else float(getattr(self, key))


def durable_consumers(broker: NatsBroker) -> list[tuple[str, str]]:
    """(stream, durable) of every JetStream subscriber of ``broker``, sorted."""
    found: set[tuple[str, str]] = set()
    for subscriber in broker.subscribers:
        stream = getattr(subscriber, "stream", None)
        durable = getattr(getattr(subscriber, "config", None), "durable_name", None)
        if stream is not None and durable:
            found.add((str(stream.name), str(durable)))
    return sorted(found)


class ConsumerInfoPoller:
    """Reads the consumer info of ``broker``'s durable consumers every ``interval_s``."""

    def __init__(
        self,
        broker: NatsBroker,
        service: str,
        *,
        interval_s: float = POLL_INTERVAL_S,
        timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self._broker, self.service = broker, service
        self._interval_s, self._timeout_s = interval_s, timeout_s
        self._states: dict[str, ConsumerState] = {}
        self._task: asyncio.Task[None] | None = None

    def states(self) -> list[ConsumerState]:
        """The last successful read of every consumer."""
        return list(self._states.values())

    async def refresh(self) -> None:
        """Read every consumer once; a consumer that cannot be read keeps its last values."""
        consumers = durable_consumers(self._broker)
        if not consumers:
            return
        try:
            js = self._broker.connection.jetstream()
        except Exception:  # not connected (yet, or any more)
            for _, durable in consumers:
                CONSUMER_INFO_ERRORS.labels(self.service, durable, "disconnected").inc()
            return
        for stream, durable in consumers:
            await self._read(js, stream, durable)

    async def _read(self, js: Any, stream: str, durable: str) -> None:
        try:
            info = await js.consumer_info(stream, durable, timeout=self._timeout_s)
        except NotFoundError:
            # Deleted on the server: its old numbers would be a lie.
            self._states.pop(durable, None)
            CONSUMER_INFO_ERRORS.labels(self.service, durable, "not_found").inc()
            return
        except Exception as exc:
            reason = "timeout" if isinstance(exc, TimeoutError) else "error"
            CONSUMER_INFO_ERRORS.labels(self.service, durable, reason).inc()
            log.debug("consumer_info_failed", consumer=durable, error=repr(exc))
            return
        self._states[durable] = ConsumerState(
            service=self.service,
            stream=stream,
            consumer=durable,
            pending=int(info.num_pending or 0),
            ack_pending=int(info.num_ack_pending or 0),
            redelivered=int(info.num_redelivered or 0),
            read_at=time.monotonic(),
        )

    def start(self) -> None:
        """Export this poller's values and read them now and then every interval."""
        CONSUMERS.add(self)
        self._task = asyncio.create_task(self._run(), name=f"consumer-info-{self.service}")

    async def stop(self) -> None:
        """Stop reading and exporting."""
        CONSUMERS.discard(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a bug here must not end the loop or the service
                log.warning("consumer_info_refresh_failed", exc_info=True)
            await asyncio.sleep(self._interval_s)


class _ConsumerCollector(Collector):
    """Exports the states of every running poller of the process."""

    def __init__(self) -> None:
        self._pollers: set[ConsumerInfoPoller] = set()

    def add(self, poller: ConsumerInfoPoller) -> None:
        self._pollers.add(poller)

    def discard(self, poller: ConsumerInfoPoller) -> None:
        self._pollers.discard(poller)

    def describe(self) -> Iterable[Metric]:
        return self._families([])

    def collect(self) -> Iterable[Metric]:
        return self._families(
            [state for poller in list(self._pollers) for state in poller.states()]
        )

    def _families(self, states: list[ConsumerState]) -> Iterator[Metric]:
        now = time.monotonic()
        for key, (name, documentation) in _GAUGES.items():
            family = GaugeMetricFamily(name, documentation, labels=_LABELS)
            for state in states:
                family.add_metric(
                    [state.service, state.stream, state.consumer], state.value(key, now)
                )
            yield family


CONSUMERS = _ConsumerCollector()
REGISTRY.register(CONSUMERS)


def count_redelivery(msg: Any) -> None:
    """Count ``msg`` (a nats-py message) if JetStream delivered it before."""
    try:
        metadata = msg.metadata
        delivered = int(metadata.num_delivered or 1)
        consumer = str(metadata.consumer or "unknown")
    except Exception:  # a core NATS message (replies, replays): never redelivered
        return
    if delivered > 1:
        REDELIVERIES.labels(consumer).inc()


class RedeliveryMiddleware(BaseMiddleware[Any, Any]):
    """Counts every redelivered JetStream message before its handler runs."""

    async def on_receive(self) -> None:
        count_redelivery(self.msg)
