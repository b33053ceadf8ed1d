"""Prometheus metrics of the workflow engine: runs, nodes and LLM calls.

Labels stay few: a run's terminal status, a node's type and status, an LLM call's provider,
model, kind and error code. Run, workflow, room and agent ids are never labels (they are span
attributes instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:  # the llm package imports this module: no import cycle at run time
    from coagent_workflow_engine.domain import Run, Step
    from coagent_workflow_engine.llm.pricing import LLMCallRecord

_RUN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

RUNS_STARTED = Counter("coagent_workflow_runs_started_total", "Runs that started executing")
RUNS_FINISHED = Counter(
    "coagent_workflow_runs_finished_total",
    "Runs that reached a terminal state (succeeded, failed, cancelled, timed_out)",
    ["status"],
)
RUN_DURATION = Histogram(
    "coagent_workflow_run_duration_seconds",
    "From a run's start to its terminal state, by that state",
    ["status"],
    buckets=_RUN_BUCKETS,
)
NODE_DURATION = Histogram(
    "coagent_workflow_node_duration_seconds",
    "One node execution, by node type and status",
    ["node_type", "status"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
LLM_CALLS = Counter(
    "coagent_llm_calls_total",
    "LLM calls (one per logical call, retries included), by outcome",
    ["provider", "model", "kind", "outcome"],
)
LLM_TOKENS = Counter(
    "coagent_llm_tokens_total",
    "Tokens of LLM calls (type: prompt or completion)",
    ["provider", "model", "type"],
)
LLM_ERRORS = Counter(
    "coagent_llm_errors_total",
    "Failed LLM calls, by the error's stable code",
    ["provider", "model", "code"],
)
LLM_DURATION = Histogram(
    "coagent_llm_call_duration_seconds",
    "Duration of one logical LLM call, retries included",
    ["provider", "model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)


def record_run_started(run: Run) -> None:
    """A run's first attempt began executing (a resumed or reclaimed run is not new)."""
    if run.attempt <= 1:
        RUNS_STARTED.inc()


def record_run_finished(run: Run) -> None:
    """Count ``run`` if it is in a terminal state; its duration if it ever started."""
    if not run.is_terminal:
        return
    RUNS_FINISHED.labels(run.status).inc()
    if run.started_at is not None and run.finished_at is not None:
        elapsed = (run.finished_at - run.started_at).total_seconds()
        RUN_DURATION.labels(run.status).observe(max(elapsed, 0.0))


def record_step(step: Step) -> None:
    """One node execution as recorded in the run's timeline."""
    if step.finished_at is None:
        return
    elapsed = (step.finished_at - step.started_at).total_seconds()
    NODE_DURATION.labels(step.node_type, step.status).observe(max(elapsed, 0.0))


def record_llm_call(call: LLMCallRecord) -> None:
    """Tokens, outcome and duration of one metered LLM call (failed calls spend tokens too)."""
    provider, model = call.provider, call.model
    LLM_CALLS.labels(provider, model, call.kind, "error" if call.error else "ok").inc()
    LLM_TOKENS.labels(provider, model, "prompt").inc(call.usage.prompt_tokens)
    LLM_TOKENS.labels(provider, model, "completion").inc(call.usage.completion_tokens)
    LLM_DURATION.labels(provider, model).observe(call.duration_ms / 1000)
    if call.error:
        LLM_ERRORS.labels(provider, model, call.error).inc()
