"""The start-up and shut-down order every service shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from faststream.nats import NatsBroker

from coagent_kit.broker import ensure_streams, start_broker
from coagent_kit.consumer_metrics import ConsumerInfoPoller
from coagent_kit.outbox import OutboxRelay
from coagent_kit.settings import ServiceSettings
from coagent_kit.shutdown import run_step

#: Deadline of each shutdown step but the broker's.
STEP_DEADLINE_S = 10.0
#: The broker waits up to its graceful timeout (10 s) for handlers in flight, then unsubscribes.
BROKER_DEADLINE_S = 20.0

Hook = Callable[[], Awaitable[object]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def messaging_lifespan(
    settings: ServiceSettings,
    broker: NatsBroker,
    *,
    relay: OutboxRelay | None = None,
    on_start: Sequence[Hook] = (),
    on_stop: Sequence[Hook] = (),
    closers: Sequence[Hook] = (),
) -> Lifespan:
    """Declare streams, connect the broker, start the consumer metrics and the relay, run
    ``on_start``; undo in reverse.

    ``on_stop`` runs first on shutdown, while the broker is still connected and the relay still
    relays: work that must hand its messages back (nack a held delivery) or announce something
    does it there, since neither is possible once the broker has stopped.
    ``closers`` release the service's own clients (engines, Redis, HTTP) after the broker has
    stopped, so no handler is still using them. Every shutdown step has a deadline
    (:mod:`coagent_kit.shutdown`): an overrun is logged with what was still running, and the
    next step runs regardless.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_streams(
            settings.nats_url,
            wait_s=settings.connect_timeout_s,
            replicas=settings.stream_replicas,
        )
        await start_broker(broker, settings.nats_url, settings.connect_timeout_s)
        consumers = ConsumerInfoPoller(broker, settings.service_name)
        consumers.start()
        if relay is not None:
            relay.start()
        try:
            for hook in on_start:
                await hook()
            yield
        finally:
            for hook in on_stop:
                await run_step(_name(hook, "on_stop"), hook(), STEP_DEADLINE_S)
            if relay is not None:
                await run_step("outbox_relay", relay.stop(), STEP_DEADLINE_S)
            await run_step("consumer_metrics", consumers.stop(), STEP_DEADLINE_S)
            await run_step("broker", broker.stop(), BROKER_DEADLINE_S)
            for close in closers:
                await run_step(_name(close, "closer"), close(), STEP_DEADLINE_S)

    return lifespan


def _name(hook: Hook, default: str) -> str:
    return getattr(hook, "__qualname__", default)
