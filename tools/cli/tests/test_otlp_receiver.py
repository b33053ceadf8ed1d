"""The test OTLP receiver decodes what the real OTLP/HTTP exporter sends."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link

from coagent_cli.testing_traces import OtlpReceiver


def test_exported_spans_arrive_with_ids_parents_links_and_attributes() -> None:
    with OtlpReceiver() as receiver:
        provider = TracerProvider(resource=Resource.create({"service.name": "demo"}))
        exporter = OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("tests")
        with tracer.start_as_current_span("outer") as outer:
            context = outer.get_span_context()
            with tracer.start_as_current_span(
                "inner", attributes={"n": 3, "tags": ("a", "b")}, links=[Link(context)]
            ):
                pass
        provider.shutdown()
        inner, received_outer = receiver.wait_for(lambda s: len(s) == 2, "both spans")
    trace_id, span_id = format(context.trace_id, "032x"), format(context.span_id, "016x")
    assert (received_outer.name, received_outer.span_id) == ("outer", span_id)
    assert received_outer.parent_id is None
    assert inner.service == "demo"
    assert (inner.trace_id, inner.parent_id) == (trace_id, span_id)
    assert dict(inner.attributes) == {"n": 3, "tags": ("a", "b")}
    assert inner.links == ((trace_id, span_id),)
    assert inner.end_ns >= inner.start_ns > 0


def test_other_paths_and_bodies_are_refused() -> None:
    with OtlpReceiver() as receiver:
        for path, body, status in (("/v1/metrics", b"", 404), ("/v1/traces", b"\xff\x00", 400)):
            request = urllib.request.Request(f"{receiver.endpoint}{path}", data=body)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            assert refused.value.code == status
        assert receiver.spans() == []
        with pytest.raises(AssertionError, match="nothing"):
            receiver.wait_for(bool, "nothing", timeout_s=0.2)
