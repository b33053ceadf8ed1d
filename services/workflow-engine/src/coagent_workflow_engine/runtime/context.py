"""One run's execution context: the step timeline, lifecycle events and the between-step checks.

Every node finishes in one transaction that writes its step row, its ``NodeFinishedV1`` and any
agent reply event, so the timeline and what the room saw never disagree. A node re-entered after
a crash finds its step row and returns the recorded update: the model is not called twice and
nothing is posted twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from coagent_contracts.envelope import Event
from coagent_contracts.workflow import NodeFinishedData, NodeFinishedV1
from coagent_kit.tracing import POLICY_ID, ROOM_ID, RUN_ID, WORKFLOW_ID, Attributes
from coagent_workflow_engine.domain import Run, Step
from coagent_workflow_engine.graphs import RunLimits, WorkflowGraph
from coagent_workflow_engine.graphs.model import AnyNode
from coagent_workflow_engine.lifecycle import PRODUCER
from coagent_workflow_engine.metrics import record_step
from coagent_workflow_engine.runtime.deps import (
    BudgetExceeded,
    CancelRequested,
    ChildRunner,
    RuntimeDeps,
)


def run_attributes(run: Run) -> Attributes:
    """What a run's spans are found by: the run, its workflow, room and firing policy."""
    return {
        RUN_ID: run.id,
        WORKFLOW_ID: run.workflow_id,
        ROOM_ID: run.room_id,
        POLICY_ID: run.trigger.policy_id if run.trigger else None,
        "coagent.run_attempt": run.attempt,
    }


@dataclass
class NodeResult:
    """What a node produced: the state update plus what the timeline and the room get."""

    update: dict[str, Any]
    input: dict[str, Any] = field(default_factory=dict)
    tokens: int = 0
    cost: float = 0.0
    events: list[Event] = field(default_factory=list)


@dataclass
class RunContext:
    run: Run
    workflow_name: str
    graph: WorkflowGraph
    deps: RuntimeDeps
    tokens_used: int = 0
    cost_used: float = 0.0
    #: Runs child runs inline (subworkflow nodes); ``None`` where there is no executor.
    children: ChildRunner | None = None

    @property
    def limits(self) -> RunLimits:
        """The graph's limits, or the tighter ones a child run got from its parent."""
        if self.run.limits is not None:
            return RunLimits.model_validate(self.run.limits)
        return self.graph.limits

    def now(self) -> datetime:
        return self.deps.clock()

    async def load_totals(self) -> None:
        """Usage of the steps already recorded (a resumed run keeps its budget spent)."""
        async with self.deps.uow() as uow:
            steps = await uow.steps.of_run(self.run.id)
        self.tokens_used = sum(s.tokens for s in steps)
        self.cost_used = sum(s.cost for s in steps)

    async def check(self) -> None:
        """Between steps: stop on a cancel request (from any process) or a spent budget."""
        async with self.deps.uow() as uow:
            current = await uow.runs.by_id(self.run.id)
        if current is not None and current.cancel_requested:
            raise CancelRequested("cancelled on request")
        if self.tokens_used >= self.limits.max_tokens:
            raise BudgetExceeded(
                f"token budget exhausted: {self.tokens_used} of {self.limits.max_tokens} tokens"
            )
        if self.cost_used >= self.limits.max_cost_usd:
            raise BudgetExceeded(
                f"cost budget exhausted: ${self.cost_used:.4f} of ${self.limits.max_cost_usd}"
            )

    async def recorded(self, node_id: str, step: int) -> Step | None:
        async with self.deps.uow() as uow:
            return await uow.steps.find(self.run.id, node_id, step)

    async def finish_step(
        self,
        node: AnyNode,
        step: int,
        started_at: datetime,
        result: NodeResult | None,
        error: str | None = None,
    ) -> None:
        """Record the step and its events in one transaction."""
        finished = self.now()
        status: Literal["succeeded", "failed"] = "failed" if result is None else "succeeded"
        record = Step(
            run_id=self.run.id,
            node_id=node.id,
            step=step,
            node_type=node.type,
            status=status,
            started_at=started_at,
            finished_at=finished,
            input=result.input if result else {},
            output=result.update if result else {},
            tokens=result.tokens if result else 0,
            cost=result.cost if result else 0.0,
            error=error,
        )
        run = self.run
        event = NodeFinishedV1(
            producer=PRODUCER,
            correlation_id=run.id,
            data=NodeFinishedData(
                run_id=run.id,
                workflow_id=run.workflow_id,
                workflow_version=run.workflow_version,
                room_id=run.room_id,
                node_id=node.id,
                node_type=node.type,
                status=status,
                started_at=started_at,
                finished_at=finished,
                tokens=record.tokens,
                cost=record.cost,
                error=error,
            ),
        )
        async with self.deps.uow() as uow:
            await uow.steps.put(record)
            for produced in result.events if result else []:
                await uow.publish(produced)
            await uow.publish(event)
            await uow.commit()
        record_step(record)
        self.tokens_used += record.tokens
        self.cost_used += record.cost
