"""NATS JetStream wiring: stream declaration, the broker factory, event publishing and consuming.

Streams are declared once with nats-py (FastStream's ``JStream`` cannot express every option, e.g.
message schedules together with TTLs), and subscribers refer to them with ``declare=False``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import nats
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.aio.client import Client as NatsClient
from nats.js.api import (
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError
from prometheus_client import REGISTRY, Counter
from pydantic import ValidationError

from coagent_contracts.envelope import Event
from coagent_contracts.streams import (
    DEAD_LETTERS as DEAD_LETTER_STREAM,
)
from coagent_contracts.streams import (
    FLEET_STREAMS,
    StreamSpec,
    dead_letter_subject,
    replay_subject,
    stream_for_subject,
)
from coagent_kit.consumer_metrics import RedeliveryMiddleware
from coagent_kit.delivery import Delivery
from coagent_kit.logging import get_logger
from coagent_kit.tracing import tracer_provider

log = get_logger(__name__)

EventT = TypeVar("EventT", bound=Event)
EventHandler = Callable[[EventT], Awaitable[None]]
HeldHandler = Callable[[EventT, Delivery], Awaitable[None]]
#: What the consumer calls: the event and its message (None for a replayed dead letter).
_Call = Callable[[EventT, NatsMessage | None], Awaitable[None]]

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
#: Headers of a dead letter: why it was given up, by whom, and where it came from.
DL_REASON, DL_CONSUMER, DL_SUBJECT = (
    "Coagent-DL-Reason",
    "Coagent-DL-Consumer",
    "Coagent-DL-Subject",
)
DL_STREAM_SEQ, DL_ERROR, DL_ATTEMPTS = (
    "Coagent-DL-Stream-Seq",
    "Coagent-DL-Error",
    "Coagent-DL-Attempts",
)


@dataclass(frozen=True)
class Retry:
    """How often a failing handler is retried, and how long it waits between attempts."""

    max_deliver: int = MAX_DELIVER
    backoff_s: tuple[float, ...] = BACKOFF_S

    def delay_s(self, attempt: int) -> float:
        """Delay before delivery ``attempt + 1``."""
        return self.backoff_s[min(attempt, len(self.backoff_s)) - 1]


class BrokerUnavailable(RuntimeError):
    """The broker could not be reached at start-up; the message is one line for the operator."""


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    """The nats-py configuration of one contract stream, kept on ``replicas`` servers."""
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
        num_replicas=replicas,
    )


async def ensure_streams(
    nats_url: str,
    specs: Iterable[StreamSpec] = FLEET_STREAMS,
    wait_s: float = 5.0,
    replicas: int = 1,
) -> None:
    """Create or update every stream; safe to run from every service at every start.

    An update carries ``replicas`` too, so raising ``COAGENT_STREAM_REPLICAS`` on a grown cluster
    re-replicates the existing streams at the next start.
    """
    nc = await _connect(nats_url, wait_s)
    try:
        js = nc.jetstream()
        for spec in specs:
            config = stream_config(spec, replicas)
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
    """A broker with tracing (traceparent in headers), Prometheus and redelivery middlewares."""
    return NatsBroker(
        nats_url,
        name=service_name,
        max_reconnect_attempts=-1,
        middlewares=[
            NatsTelemetryMiddleware(tracer_provider=tracer_provider()),
            NatsPrometheusMiddleware(registry=REGISTRY, app_name=service_name),
            RedeliveryMiddleware,
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
    durable: str,
    ack_wait_s: float = 30.0,
    max_ack_pending: int = 64,
    max_deliver: int = MAX_DELIVER,
    new_only: bool = False,
) -> ConsumerConfig:
    """Durable pull consumer settings chosen on purpose (see DESIGN.md §4).

    ``new_only``: a consumer created on a stream with history starts at its end. Projections
    want the history (``False``); reactions to what happens now (firing a trigger) must not
    act on 30 days of old messages the first time they are deployed.
    """
    return ConsumerConfig(
        durable_name=durable,
        ack_wait=ack_wait_s,
        max_deliver=max_deliver,
        max_ack_pending=max_ack_pending,
        deliver_policy=DeliverPolicy.NEW if new_only else DeliverPolicy.ALL,
    )


def subscribe_event(
    broker: NatsBroker,
    event_type: type[EventT],
    durable: str,
    handler: EventHandler[EventT],
    *,
    filter_subject: str | None = None,
    batch_size: int = 16,
    retry: Retry | None = None,
    new_only: bool = False,
) -> None:
    """Register a durable pull consumer that parses ``event_type`` and acks explicitly.

    A message that does not validate is terminated and counted as a dead letter (retrying cannot
    fix it); an exception in ``handler`` is treated as transient and redelivered with backoff,
    and after the last attempt kept as a dead letter too (on ``deadletter.<durable>``).
    """

    async def call(event: EventT, _: NatsMessage | None) -> None:
        await handler(event)

    policy = retry or Retry()
    config = consumer_config(durable, max_deliver=policy.max_deliver, new_only=new_only)
    _register(broker, event_type, durable, call, policy, config, filter_subject, batch_size)


def subscribe_held_event(
    broker: NatsBroker,
    event_type: type[EventT],
    durable: str,
    handler: HeldHandler[EventT],
    *,
    ack_wait_s: float,
    filter_subject: str | None = None,
    retry: Retry | None = None,
    batch_size: int = 16,
) -> None:
    """Like :func:`subscribe_event`, for work that outlasts the handler call.

    ``handler`` gets the message's :class:`Delivery` and owns its acknowledgement: returning
    leaves the message in flight, to be kept alive with ``in_progress`` (more often than
    ``ack_wait_s``) and acked when the work ends. An exception in ``handler`` itself is retried
    like in :func:`subscribe_event`.
    """

    async def call(event: EventT, msg: NatsMessage | None) -> None:
        await handler(event, Delivery(msg))

    policy = retry or Retry()
    config = consumer_config(durable, ack_wait_s=ack_wait_s, max_deliver=policy.max_deliver)
    _register(broker, event_type, durable, call, policy, config, filter_subject, batch_size,
              handler_acks=True)  # fmt: skip


def _register(
    broker: NatsBroker,
    event_type: type[EventT],
    durable: str,
    call: _Call[EventT],
    policy: Retry,
    config: ConsumerConfig,
    filter_subject: str | None,
    batch_size: int,
    *,
    handler_acks: bool = False,
) -> None:
    subject = filter_subject or event_type.FILTER
    _CONSUMED.setdefault(broker, []).append((durable, event_type))
    # A filter's wildcards stand for id tokens; any concrete stand-in lands in the same stream.
    stream = stream_for_subject(subject.replace("*", "x").replace(">", "x"))

    @broker.subscriber(
        subject,
        stream=JStream(name=stream.name, declare=False),
        durable=durable,
        config=config,
        pull_sub=PullSub(batch_size=batch_size, timeout=1.0),
        ack_policy=AckPolicy.MANUAL,
        title=f"{durable}:{event_type.__name__}",
    )
    async def consume(body: Any, msg: NatsMessage) -> None:
        # FastStream hands over the JSON-decoded body (a dict); validation wants the raw bytes.
        await _handle(broker, policy, event_type, durable, call, msg, handler_acks)

    # One replica (queue group) takes each replay request and answers once it is handled.
    @broker.subscriber(replay_subject(durable), queue=durable, title=f"{durable}:replay")
    async def replay(body: Any, msg: NatsMessage) -> dict[str, str]:
        return await _replay(event_type, durable, call, msg.body)

    _ = consume, replay


async def _replay(
    event_type: type[EventT], durable: str, call: _Call[EventT], body: bytes
) -> dict[str, str]:
    """Run ``handler`` on a dead letter handed back by an operator; say how it went."""
    try:
        event = event_type.model_validate_json(body)
    except ValidationError as exc:
        return {"status": "invalid", "error": str(exc)[:500]}
    try:
        await call(event, None)
    except Exception as exc:
        log.exception("replay_failed", consumer=durable, event_id=event.event_id)
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}
    log.info("dead_letter_replayed", consumer=durable, event_id=event.event_id)
    return {"status": "processed"}


async def _handle(
    broker: NatsBroker,
    policy: Retry,
    event_type: type[EventT],
    durable: str,
    call: _Call[EventT],
    msg: NatsMessage,
    handler_acks: bool,
) -> None:
    try:
        event = event_type.model_validate_json(msg.body)
    except ValidationError as exc:
        await _give_up(broker, msg, durable, "invalid", str(exc))
        return
    try:
        await call(event, msg)
    except Exception as exc:
        attempt = _attempt(msg)
        log.exception("handler_failed", consumer=durable, event_id=event.event_id, attempt=attempt)
        if attempt >= policy.max_deliver:
            # The server would drop it silently after this delivery; keep it instead.
            await _give_up(broker, msg, durable, "exhausted", f"{type(exc).__name__}: {exc}")
            return
        await msg.nack(delay=policy.delay_s(attempt))
        return
    if not handler_acks:
        await msg.ack()


async def _give_up(
    broker: NatsBroker, msg: NatsMessage, durable: str, reason: str, error: str
) -> None:
    """Keep the message on the dead-letter stream, then terminate it.

    If the dead letter cannot be stored, the message is redelivered later rather than lost.
    """
    raw = msg.raw_message
    stream, stream_seq, attempts = _source(msg)
    headers = {
        # The same message given up twice (e.g. a crash before the terminate) is kept once.
        "Nats-Msg-Id": f"{durable}:{stream}:{stream_seq or uuid.uuid4().hex}",
        DL_REASON: reason,
        DL_CONSUMER: durable,
        DL_SUBJECT: raw.subject,
        DL_STREAM_SEQ: str(stream_seq),
        DL_ATTEMPTS: str(attempts),
        DL_ERROR: error[:500],
    }
    for name in ("Coagent-Event-Type", "traceparent"):
        if raw.headers and name in raw.headers:
            headers[name] = raw.headers[name]
    try:
        await broker.publish(
            msg.body, dead_letter_subject(durable), headers=headers, stream=DEAD_LETTER_STREAM.name
        )
    except Exception:
        log.exception("dead_letter_not_stored", consumer=durable, subject=raw.subject)
        await msg.nack(delay=BACKOFF_S[-1])
        return
    DEAD_LETTERS.labels(durable, reason).inc()
    log.error("dead_letter", consumer=durable, subject=raw.subject, reason=reason, error=error)
    await msg.reject()


def _source(msg: NatsMessage) -> tuple[str, int, int]:
    """(stream, stream sequence, delivery count) of a JetStream message; blanks otherwise."""
    try:
        metadata: Any = msg.raw_message.metadata
    except nats.errors.NotJSMessageError:
        return "", 0, 1
    return str(metadata.stream), int(metadata.sequence.stream), int(metadata.num_delivered or 1)


def _attempt(msg: NatsMessage) -> int:
    metadata: Any = msg.raw_message.metadata
    return int(metadata.num_delivered or 1)
