"""NATS JetStream wiring: stream declaration, the broker factory, event publishing and consuming.

Streams are declared once with nats-py (FastStream's ``JStream`` cannot express every option, e.g.
message schedules together with TTLs), and subscribers refer to them with ``declare=False``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import nats
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY, Counter
from pydantic import ValidationError

from coagent_contracts.envelope import Event
from coagent_contracts.streams import ALL_STREAMS, StreamSpec, stream_for_subject
from coagent_kit.logging import get_logger
from coagent_kit.tracing import tracer_provider

log = get_logger(__name__)

EventT = TypeVar("EventT", bound=Event)
EventHandler = Callable[[EventT], Awaitable[None]]

#: What each broker consumes, recorded by :func:`subscribe_event` for the AsyncAPI documents.
_CONSUMED: WeakKeyDictionary[NatsBroker, list[tuple[str, type[Event]]]] = WeakKeyDictionary()

DEAD_LETTERS = Counter(
    "coagent_dead_letters_total",
    "Messages terminated because they can never be processed",
    ["consumer", "reason"],
)
#: Redelivery delays (seconds) by attempt: transient faults back off instead of spinning.
BACKOFF_S = (0.5, 2.0, 5.0, 15.0, 30.0, 60.0)
MAX_DELIVER = 20


class BrokerUnavailable(RuntimeError):
    """The broker could not be reached at start-up; the message is one line for the operator."""


def stream_config(spec: StreamSpec) -> StreamConfig:
    """The nats-py configuration of one contract stream."""
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        duplicate_window=spec.duplicate_window_s,
        max_age=spec.max_age_s,
        max_bytes=spec.max_bytes,
        allow_msg_schedules=spec.allow_msg_schedules or None,
    )


async def ensure_streams(
    nats_url: str, specs: Iterable[StreamSpec] = ALL_STREAMS, wait_s: float = 5.0
) -> None:
    """Create or update every stream; safe to run from every service at every start."""
    nc = await _connect(nats_url, wait_s)
    try:
        js = nc.jetstream()
        for spec in specs:
            config = stream_config(spec)
            try:
                await js.stream_info(spec.name)
                await js.update_stream(config)
            except NotFoundError:
                await js.add_stream(config)
    finally:
        await nc.close()


async def _connect(nats_url: str, wait_s: float) -> NatsClient:
    try:
        return await asyncio.wait_for(
            nats.connect(nats_url, connect_timeout=wait_s, allow_reconnect=False), wait_s
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        reason = str(exc) or type(exc).__name__
        raise BrokerUnavailable(f"cannot reach NATS at {nats_url}: {reason}") from exc


def create_broker(nats_url: str, service_name: str) -> NatsBroker:
    """A broker with tracing (traceparent in headers) and Prometheus middlewares."""
    return NatsBroker(
        nats_url,
        name=service_name,
        max_reconnect_attempts=-1,
        middlewares=[
            NatsTelemetryMiddleware(tracer_provider=tracer_provider()),
            NatsPrometheusMiddleware(registry=REGISTRY, app_name=service_name),
        ],
        graceful_timeout=10.0,
    )


async def start_broker(broker: NatsBroker, nats_url: str, wait_s: float) -> None:
    """Connect, failing fast with one clear line when NATS is unreachable."""
    probe = await _connect(nats_url, wait_s)
    await probe.close()
    await asyncio.wait_for(broker.start(), wait_s * 2)


def event_headers(event: Event, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a published event: ``Nats-Msg-Id`` makes relays and retries idempotent."""
    return {**(extra or {}), "Nats-Msg-Id": event.msg_id, "Coagent-Event-Type": event.type}


async def publish_event(
    broker: NatsBroker, event: Event, headers: dict[str, str] | None = None
) -> None:
    """Publish one event to its stream and wait for the JetStream acknowledgement."""
    stream = stream_for_subject(event.subject).name
    await broker.publish(
        event.model_dump_json().encode(),
        event.subject,
        headers=event_headers(event, headers),
        stream=stream,
    )


def consumed_events(broker: NatsBroker) -> list[tuple[str, type[Event]]]:
    """(durable consumer name, event class) of every :func:`subscribe_event` on ``broker``."""
    return list(_CONSUMED.get(broker, []))


def consumer_config(
    durable: str, ack_wait_s: float = 30.0, max_ack_pending: int = 64
) -> ConsumerConfig:
    """Durable pull consumer settings chosen on purpose (see DESIGN.md §4)."""
    return ConsumerConfig(
        durable_name=durable,
        ack_wait=ack_wait_s,
        max_deliver=MAX_DELIVER,
        max_ack_pending=max_ack_pending,
    )


def subscribe_event(
    broker: NatsBroker,
    event_type: type[EventT],
    durable: str,
    handler: EventHandler[EventT],
    *,
    filter_subject: str | None = None,
    batch_size: int = 16,
) -> None:
    """Register a durable pull consumer that parses ``event_type`` and acks explicitly.

    A message that does not validate is terminated and counted as a dead letter (retrying cannot
    fix it); an exception in ``handler`` is treated as transient and redelivered with backoff.
    """
    subject = filter_subject or event_type.FILTER
    _CONSUMED.setdefault(broker, []).append((durable, event_type))
    # A filter's wildcards stand for id tokens; any concrete stand-in lands in the same stream.
    stream = stream_for_subject(subject.replace("*", "x").replace(">", "x"))

    @broker.subscriber(
        subject,
        stream=JStream(name=stream.name, declare=False),
        durable=durable,
        config=consumer_config(durable),
        pull_sub=PullSub(batch_size=batch_size, timeout=1.0),
        ack_policy=AckPolicy.MANUAL,
        title=f"{durable}:{event_type.__name__}",
    )
    async def consume(body: Any, msg: NatsMessage) -> None:
        # FastStream hands over the JSON-decoded body (a dict); validation wants the raw bytes.
        await _handle(event_type, durable, handler, msg.body, msg)

    _ = consume


async def _handle(
    event_type: type[EventT],
    durable: str,
    handler: EventHandler[EventT],
    body: bytes,
    msg: NatsMessage,
) -> None:
    try:
        event = event_type.model_validate_json(body)
    except ValidationError as exc:
        DEAD_LETTERS.labels(durable, "invalid").inc()
        log.error("dead_letter", consumer=durable, subject=msg.raw_message.subject, error=str(exc))
        await msg.reject()
        return
    try:
        await handler(event)
    except Exception:
        attempt = _attempt(msg)
        log.exception("handler_failed", consumer=durable, event_id=event.event_id, attempt=attempt)
        await msg.nack(delay=BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1])
        return
    await msg.ack()


def _attempt(msg: NatsMessage) -> int:
    metadata: Any = msg.raw_message.metadata
    return int(metadata.num_delivered or 1)
