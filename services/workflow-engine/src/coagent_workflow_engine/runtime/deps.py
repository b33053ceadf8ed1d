"""What running a workflow needs from the rest of the process, as small ports.

Agents come from the agents subpackage, models from ``llm.factory``, live frames go to core NATS;
tests substitute each one (a slow streaming model, a fixed agent table) without touching the
compiler or the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from coagent_workflow_engine.domain import Run
from coagent_workflow_engine.llm import ChatModel, OfflineChatModel, model_for
from coagent_workflow_engine.ports import UnitOfWorkFactory
from coagent_workflow_engine.runtime.ssrf import EgressPolicy


@dataclass(frozen=True)
class AgentSpec:
    """The agent version a node runs (what the run records and what the model call needs)."""

    id: str
    name: str
    type: str
    system_prompt: str
    provider: str
    model: str | None
    version: int
    context_window: int = 10
    settings: dict[str, Any] = field(default_factory=dict)


class AgentDirectory(Protocol):
    async def resolve(self, agent_id: str, version: int | None) -> AgentSpec | None:
        """The agent at ``version`` (the latest when ``None``); ``None`` if unknown."""
        ...

    async def api_key(self, agent: AgentSpec, running_user: str | None) -> str | None:
        """The key that pays for this call, ``None`` for the offline provider."""
        ...


class LivePublisher(Protocol):
    async def publish(self, subject: str, data: bytes) -> None:
        """Fire-and-forget on core NATS (token deltas are worthless once missed)."""
        ...


ModelFactory = Callable[[AgentSpec, str | None, Run], ChatModel]
#: The slowest pace (seconds per streamed chunk) an offline agent may be configured with.
MAX_OFFLINE_PACE_S = 5.0


def default_models(agent: AgentSpec, api_key: str | None, run: Run) -> ChatModel:
    """``llm.model_for``: the offline model when there is no key (tests, ``make run``)."""
    base_url = agent.settings.get("base_url")
    built = model_for(
        agent.provider if agent.provider != "external" else "offline",
        agent.model,
        api_key,
        base_url if isinstance(base_url, str) else None,
        run.created_by or "anonymous",
        run_id=run.id,
    )
    pace = agent.settings.get("offline_pace_s")
    if isinstance(built, OfflineChatModel) and isinstance(pace, int | float) and pace > 0:
        # An offline agent may stream at a set pace (demos, fault drills); capped per chunk.
        built = OfflineChatModel(built.default_model, pace_s=min(float(pace), MAX_OFFLINE_PACE_S))
    return built


class NullLive:
    """Drops live frames (no broker, e.g. unit tests)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, data: bytes) -> None:
        self.sent.append((subject, data))


@dataclass
class RuntimeDeps:
    """Process-wide collaborators of every run."""

    uow: UnitOfWorkFactory
    agents: AgentDirectory
    live: LivePublisher = field(default_factory=NullLive)
    models: ModelFactory = default_models
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: How many recent room messages the history projection keeps per room.
    history_keep: int = 200
    #: What ``http`` and ``tool`` nodes may call (public addresses only, unless allow-listed).
    egress: EgressPolicy = field(default_factory=EgressPolicy)


class ChildRunner(Protocol):
    """Executes a run to its next resting state (the executor); subworkflow nodes use it."""

    async def execute(self, run: Run) -> None: ...

    async def finish_cancelled(self, run_id: str, owner: str | None, reason: str) -> None: ...


class RunStopped(Exception):
    """Ends a run between steps; ``status``/``code`` say how it is recorded."""

    status = "failed"
    code = "run_stopped"


class CancelRequested(RunStopped):
    status, code = "cancelled", "cancelled"


class BudgetExceeded(RunStopped):
    code = "budget_exceeded"


class NodeFailed(RunStopped):
    code = "node_failed"

    def __init__(self, node_id: str, error: str) -> None:
        super().__init__(f"node {node_id!r} failed: {error}")
        self.node_id = node_id


class NodeError(Exception):
    """A node cannot do its job (unknown agent, unsupported action, no room…): the step fails."""
