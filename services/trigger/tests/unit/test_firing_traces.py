"""A message's firing stays in the message's trace; a time-based firing starts its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from coagent_kit.tracing import setup_tracing, span
from coagent_trigger.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_trigger.adapters.memory_schedules import MemoryCanceller
from coagent_trigger.due_service import DueService
from coagent_trigger.policies import Caller
from coagent_trigger.policy_service import PolicyDraft, PolicyService
from coagent_trigger.secrets_box import SecretBox

from ..conftest import T0, MessageFactory

OWNER = Caller(user_id="u1", platform_role="teacher")


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    setup_tracing("trigger-tests", exporter=exporter)
    yield exporter
    exporter.shutdown()


def _named(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    setup_tracing("trigger-tests").force_flush()
    (found,) = [s for s in exporter.get_finished_spans() if s.name == name]
    return found


def _service(store: MemoryStore, now: list[datetime]) -> PolicyService:
    return PolicyService(
        lambda: MemoryUnitOfWork(store),
        SecretBox("k"),
        clock=lambda: now[0],
        canceller=MemoryCanceller(store.timers),
    )


async def test_a_message_firing_is_evaluated_and_fired_in_the_messages_trace(
    store: MemoryStore, posted: MessageFactory, exported: InMemorySpanExporter
) -> None:
    policies = _service(store, [T0])
    draft = PolicyDraft("p", "user_message", {"keyword": "help"}, "wf", "r1", True)
    policy_id = (await policies.create(OWNER, draft)).policy.id
    with span("consume message.posted") as consumer:
        fired = await policies.on_message(posted(1, content="help me"))
    assert len(fired) == 1
    evaluate, fire = _named(exported, "trigger.evaluate"), _named(exported, "trigger.fire")
    assert evaluate.parent is not None
    assert evaluate.parent.span_id == consumer.get_span_context().span_id
    assert fire.parent is not None
    assert evaluate.context is not None
    assert fire.parent.span_id == evaluate.context.span_id
    assert dict(evaluate.attributes or {})["coagent.firings"] == 1
    attributes = dict(fire.attributes or {})
    assert attributes["coagent.policy_id"] == policy_id
    assert attributes["coagent.room_id"] == "r1"
    assert attributes["coagent.firing_outcome"] == "fired"


async def test_a_timer_firing_is_a_new_trace_linked_to_its_due_message(
    store: MemoryStore, exported: InMemorySpanExporter
) -> None:
    now = [T0]
    policies = _service(store, now)
    due = DueService(lambda: MemoryUnitOfWork(store), clock=lambda: now[0])
    draft = PolicyDraft("p", "timer", {"interval_mins": 1, "overlap": "allow"}, "wf", "r1", True)
    policy_id = (await policies.create(OWNER, draft)).policy.id
    [arm] = [a for a in store.timers.pending().values() if a.due.policy_id == policy_id]
    now[0] = arm.due.at + timedelta(seconds=1)
    with span("consume policy.due") as consumer:
        assert len(await due.on_due(arm.due)) == 1
    fire = _named(exported, "trigger.fire")
    assert fire.parent is None
    assert fire.context is not None
    assert fire.context.trace_id != consumer.get_span_context().trace_id
    assert [link.context.span_id for link in fire.links] == [consumer.get_span_context().span_id]
    assert dict(fire.attributes or {})["coagent.scheduled_for"] == arm.due.at.isoformat()
