"""OpenTelemetry set-up and W3C trace-context propagation over NATS headers and outbox rows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

_provider: TracerProvider | None = None


def setup_tracing(
    service_name: str, otlp_endpoint: str = "", exporter: SpanExporter | None = None
) -> TracerProvider:
    """Install the process-wide tracer provider once.

    Spans always get real trace ids (so logs and event headers correlate); they are exported over
    OTLP/HTTP only when an endpoint is configured, or to ``exporter`` when a test passes one.
    """
    global _provider
    if _provider is not None:
        if exporter is not None:
            _provider.add_span_processor(BatchSpanProcessor(exporter))
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
    return provider


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
