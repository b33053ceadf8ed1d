"""OpenTelemetry set-up, W3C trace-context propagation over NATS headers and outbox rows, and the
span helpers every service names its operations with.

One user action is one trace: the gateway starts it (:func:`new_trace`) when a WebSocket frame
arrives, and every hop after that (HTTP, outbox rows, NATS headers, a run's row in the queue)
carries its ``traceparent`` on, so the spans of all services share its trace id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import AttributeValue

_provider: TracerProvider | None = None
#: True once spans leave the process (an OTLP endpoint or a test exporter is configured).
_exporting = False
#: Spans of the fleet's own operations; a proxy until :func:`setup_tracing` installs a provider.
_tracer = trace.get_tracer("coagent")

#: Attribute names shared by every service, so one query finds a room's or a run's spans.
ROOM_ID = "coagent.room_id"
RUN_ID = "coagent.run_id"
POLICY_ID = "coagent.policy_id"
WORKFLOW_ID = "coagent.workflow_id"
NODE_ID = "coagent.node_id"
MESSAGE_ID = "coagent.message_id"
EVENT_ID = "coagent.event_id"
Attributes = Mapping[str, AttributeValue | None]


def setup_tracing(
    service_name: str, otlp_endpoint: str = "", exporter: SpanExporter | None = None
) -> TracerProvider:
    """Install the process-wide tracer provider once.

    Spans always get real trace ids (so logs and event headers correlate); they are exported over
    OTLP/HTTP only when an endpoint is configured, or to ``exporter`` when a test passes one.
    """
    global _provider, _exporting
    if _provider is not None:
        if exporter is not None:
            _provider.add_span_processor(BatchSpanProcessor(exporter))
            _exporting = True
        return _provider
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider = provider
    _exporting = bool(otlp_endpoint) or exporter is not None
    return provider


def exporting() -> bool:
    """Whether spans are exported: per-recipient spans (one per socket a frame is sent to) are
    only worth their cost when someone will look at them."""
    return _exporting


def tracer_provider() -> TracerProvider | None:
    """The provider installed by :func:`setup_tracing`, if any."""
    return _provider


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers carrying the current trace context (``traceparent``/``tracestate``)."""
    carrier: dict[str, str] = dict(headers or {})
    propagate.inject(carrier)
    return carrier


@contextmanager
def attached_context(headers: Mapping[str, str] | None) -> Iterator[None]:
    """Make the trace context stored in ``headers`` current for the duration of the block.

    Used where work resumes outside the request that started it (the outbox relay), so the
    publish span joins the trace of the request that wrote the event.
    """
    token = otel_context.attach(propagate.extract(dict(headers or {})))
    try:
        yield
    finally:
        otel_context.detach(token)


def current_trace_ids() -> tuple[str | None, str | None]:
    """(trace_id, span_id) of the current span as hex, or Nones outside a recorded span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def _clean(attributes: Attributes | None) -> dict[str, AttributeValue]:
    """Attributes without the unknown (``None``) ones, which OpenTelemetry would drop noisily."""
    return {k: v for k, v in (attributes or {}).items() if v is not None}


@contextmanager
def span(
    name: str,
    attributes: Attributes | None = None,
    *,
    parent: Mapping[str, str] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> Iterator[Span]:
    """A current span named by operation (``chat.store_message``, ``workflow.node``…).

    ``parent``: headers carrying the trace context to continue (a NATS message's, a stored
    run's) when the work did not start in the context that caused it.
    """
    context = propagate.extract(dict(parent)) if parent is not None else None
    with _tracer.start_as_current_span(
        name, context=context, kind=kind, attributes=_clean(attributes)
    ) as current:
        yield current


@contextmanager
def new_trace(
    name: str, attributes: Attributes | None = None, *, kind: SpanKind = SpanKind.SERVER
) -> Iterator[Span]:
    """The root span of one user action, linked to the span it happened in.

    A WebSocket connection is one long server span; each frame a user sends on it is an action
    of its own, so it starts a new trace rather than joining the connection's (which would put
    every message of the connection, and everything they caused, in one trace).
    """
    current = trace.get_current_span().get_span_context()
    links = [Link(current)] if current.is_valid else None
    with _tracer.start_as_current_span(
        name,
        context=otel_context.Context(),
        kind=kind,
        links=links,
        attributes=_clean(attributes),
    ) as root:
        yield root


def start_span(name: str, attributes: Attributes | None = None) -> Span:
    """A child of the current span that the caller ends (``span.end()``) itself.

    For work that outlives a ``with`` block in one context, such as an async generator consumed
    by someone else: making its span current there would leak it into the consumer's context.
    """
    return _tracer.start_span(name, attributes=_clean(attributes))


def set_attributes(target: Span, attributes: Attributes) -> None:
    """Set the known (not ``None``) ``attributes`` on ``target``."""
    target.set_attributes(_clean(attributes))
