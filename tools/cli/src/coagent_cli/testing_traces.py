"""An OTLP/HTTP trace receiver for tests: the fleet exports its spans to it as to any collector.

A real HTTP server on a free loopback port that decodes ``ExportTraceServiceRequest`` protobuf
bodies (``POST /v1/traces``) into :class:`ReceivedSpan` records, so a test can read back the spans
of one user action from every service process.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

#: Spans kept at most (oldest dropped first): the whole e2e tier exports to one receiver.
MAX_SPANS = 100_000


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, ids as lowercase hex like ``traceparent``."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)
    #: (trace id, span id) of each linked span.
    links: tuple[tuple[str, str], ...] = ()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if kind is None or kind == "kvlist_value":
        return None
    return getattr(value, kind)


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one OTLP/HTTP protobuf export request."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            spans.extend(_span(s, service) for s in scope_spans.spans)
    return spans


def _span(s: Any, service: str) -> ReceivedSpan:
    return ReceivedSpan(
        trace_id=s.trace_id.hex(),
        span_id=s.span_id.hex(),
        parent_id=s.parent_span_id.hex() or None,
        name=s.name,
        service=service,
        start_ns=s.start_time_unix_nano,
        end_ns=s.end_time_unix_nano,
        attributes={a.key: _value(a.value) for a in s.attributes},
        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in s.links),
    )


class OtlpReceiver:
    """Collects exported spans; ``endpoint`` is what ``COAGENT_OTLP_ENDPOINT`` takes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._spans: deque[ReceivedSpan] = deque(maxlen=MAX_SPANS)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> OtlpReceiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otlp-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def add(self, spans: Iterable[ReceivedSpan]) -> None:
        with self._lock:
            self._spans.extend(spans)

    def spans(self, trace_id: str | None = None) -> list[ReceivedSpan]:
        """Spans received so far (of one trace when ``trace_id`` is given)."""
        with self._lock:
            return [s for s in self._spans if trace_id is None or s.trace_id == trace_id]

    def wait_for(
        self,
        found: Callable[[list[ReceivedSpan]], bool],
        what: str,
        trace_id: str | None = None,
        timeout_s: float = 20.0,
    ) -> list[ReceivedSpan]:
        """Poll until ``found(spans)`` holds; :class:`AssertionError` naming ``what`` if not."""
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.spans(trace_id)
            if found(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({f"{s.service}:{s.name}" for s in spans})
                raise AssertionError(f"{what} not received within {timeout_s}s; got {names}")
            time.sleep(0.1)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_error(404, "only /v1/traces is served")
                    return
                try:
                    receiver.add(decode(body))
                except Exception:  # a body that is not an export request
                    self.send_error(400, "not an ExportTraceServiceRequest")
                    return
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per export batch would drown the test output

        return Handler


@contextmanager
def exporting_to(receiver: OtlpReceiver, delay_ms: int = 200) -> Iterator[dict[str, str]]:
    """Environment that points service processes at ``receiver`` (set in ``os.environ`` for the
    block, restored after), with a short batch delay so spans arrive while a test waits."""
    env = {
        "COAGENT_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": str(delay_ms),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
