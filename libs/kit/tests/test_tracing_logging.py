"""Trace context over headers, and JSON log lines that carry trace, service and request ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from coagent_kit.logging import get_logger, setup_logging
from coagent_kit.tracing import attached_context, current_trace_ids, inject_headers


@pytest.fixture(scope="module")
def tracer() -> Tracer:
    # A private provider: these tests need recorded spans, not the process-wide set-up.
    return TracerProvider().get_tracer("kit-tests")


def _hex_ids(span: object) -> tuple[str, str]:
    ctx = span.get_span_context()  # type: ignore[attr-defined]
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def test_no_trace_ids_outside_a_span() -> None:
    assert current_trace_ids() == (None, None)
    assert "traceparent" not in inject_headers()


def test_inject_headers_carries_the_current_span(tracer: Tracer) -> None:
    with tracer.start_as_current_span("work") as span:
        headers = inject_headers({"Nats-Msg-Id": "e-1"})
        trace_id, span_id = _hex_ids(span)
        assert current_trace_ids() == (trace_id, span_id)
    assert headers["Nats-Msg-Id"] == "e-1"
    version, header_trace, header_span, flags = headers["traceparent"].split("-")
    assert (version, header_trace, header_span) == ("00", trace_id, span_id)
    assert int(flags, 16) & 0x01  # sampled


def test_inject_headers_does_not_modify_its_argument(tracer: Tracer) -> None:
    given = {"a": "b"}
    with tracer.start_as_current_span("work"):
        inject_headers(given)
    assert given == {"a": "b"}


def test_attached_context_restores_the_trace(tracer: Tracer) -> None:
    with tracer.start_as_current_span("request") as span:
        headers = inject_headers()
        trace_id, span_id = _hex_ids(span)
    assert current_trace_ids() == (None, None)
    with attached_context(headers):
        assert current_trace_ids() == (trace_id, span_id)
        with tracer.start_as_current_span("relay") as child:
            child_trace, child_span = _hex_ids(child)
            parent = child.parent  # type: ignore[attr-defined]
    assert current_trace_ids() == (None, None)
    assert child_trace == trace_id
    assert child_span != span_id
    assert format(parent.span_id, "016x") == span_id


def test_attached_context_tolerates_no_headers() -> None:
    with attached_context(None):
        assert current_trace_ids() == (None, None)
    with attached_context({"traceparent": "garbage"}):
        assert current_trace_ids() == (None, None)


# ------------------------------------------------------------------ logging


@contextmanager
def _restored_logging() -> Iterator[None]:
    """``setup_logging`` is process-wide: put back what the rest of the session had."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    uvicorn = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    config = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**config)
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, (saved, propagate) in uvicorn.items():
            logging.getLogger(name).handlers[:] = saved
            logging.getLogger(name).propagate = propagate


def _json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_log_lines_are_json_with_trace_service_and_request_ids(
    tracer: Tracer, capsys: pytest.CaptureFixture[str]
) -> None:
    with _restored_logging():
        setup_logging("demo-svc", "info")
        log = get_logger("kit.tests")
        with (
            tracer.start_as_current_span("handle") as span,
            structlog.contextvars.bound_contextvars(request_id="req-42"),
        ):
            log.info("room_created", room_id="r-1")
            logging.getLogger("plain.stdlib").warning("stdlib %s", "line")
        log.debug("hidden")
        log.warning("after_span")
        out = capsys.readouterr().out
    trace_id, span_id = _hex_ids(span)
    lines = _json_lines(out)
    assert [line["event"] for line in lines] == ["room_created", "stdlib line", "after_span"]
    structured, stdlib, after = lines
    assert structured["trace_id"] == trace_id
    assert structured["span_id"] == span_id
    assert structured["service"] == "demo-svc"
    assert structured["request_id"] == "req-42"
    assert structured["room_id"] == "r-1"
    assert structured["level"] == "info"
    assert structured["logger"] == "kit.tests"
    assert str(structured["timestamp"]).endswith("Z")
    # Lines from plain stdlib loggers (uvicorn, libraries) get the same treatment.
    assert stdlib["trace_id"] == trace_id
    assert stdlib["service"] == "demo-svc"
    assert stdlib["request_id"] == "req-42"
    assert stdlib["level"] == "warning"
    # Outside the span and the bound context, nothing stale is carried over.
    assert "trace_id" not in after
    assert "request_id" not in after
    assert after["service"] == "demo-svc"


def test_exceptions_are_rendered_into_the_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    with _restored_logging():
        setup_logging("demo-svc")
        try:
            raise ValueError("bad thing")
        except ValueError:
            get_logger("kit.tests").exception("failed")
        out = capsys.readouterr().out
    (line,) = _json_lines(out)
    assert line["event"] == "failed"
    assert line["level"] == "error"
    assert "ValueError: bad thing" in str(line["exception"])
