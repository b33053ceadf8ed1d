"""Structured JSON logs with the trace, span and request ids of whatever is being handled."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from coagent_kit.tracing import current_trace_ids


def _add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    trace_id, span_id = current_trace_ids()
    if trace_id is not None:
        event.setdefault("trace_id", trace_id)
        event.setdefault("span_id", span_id)
    return event


def setup_logging(service_name: str, level: str = "INFO") -> None:
    """Route structlog and stdlib logging to one JSON-lines stream on stdout."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        _add_service(service_name),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; route them through ours so every line is JSON.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _add_service(service_name: str) -> structlog.typing.Processor:
    def processor(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        event.setdefault("service", service_name)
        return event

    return processor


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structured logger; bind request-scoped values with ``structlog.contextvars``."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
