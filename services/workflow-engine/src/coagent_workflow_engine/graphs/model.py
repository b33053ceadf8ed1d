"""The canonical workflow graph document (``schema_version`` 1), as pydantic models.

This is the shape stored with every immutable workflow version and read by the compiler. It is
stricter than what the reference editor saves (``normalise`` bridges the two): node configs are
typed per node type and forbid unknown keys so typos fail on save instead of silently doing
nothing at run time, which is what the reference did with ``config.config.output_behavior``.
Editor-only data (labels, positions, anything else the UI keeps) lives in ``label``, ``position``
and ``ui`` so a round trip through the web client loses nothing.

Structural rules that involve more than one node (reachability, branches, cycles) are not model
validators: they live in ``validate`` so that *all* problems are collected with their JSON paths.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from coagent_workflow_engine.graphs.base import NODE_ID_PATTERN as NODE_ID_PATTERN
from coagent_workflow_engine.graphs.base import RESERVED_NODE_IDS as RESERVED_NODE_IDS
from coagent_workflow_engine.graphs.base import SCHEMA_VERSION as SCHEMA_VERSION
from coagent_workflow_engine.graphs.base import (
    ExpressionLoc,
    ExpressionSource,
    Label,
    NodeConfig,
    NodeId,
    Ref,
    StateKey,
    Strict,
    Text,
    UiData,
)
from coagent_workflow_engine.graphs.effects import BUILTIN_TOOLS as BUILTIN_TOOLS
from coagent_workflow_engine.graphs.effects import (
    ActionConfig,
    HttpConfig,
    SubworkflowConfig,
    ToolConfig,
)

# ------------------------------------------------------------------------------ configs


class StartConfig(NodeConfig):
    """The entry point; the trigger payload becomes the initial state."""


class EndConfig(NodeConfig):
    """A terminal node. ``result_key`` names the state key reported as the run's result."""

    result_key: StateKey | None = None


class AgentConfig(NodeConfig):
    """Runs one agent turn.

    ``output_behavior`` keeps the reference's vocabulary: ``proposal`` writes ``current_proposal``,
    ``evaluation`` asks the agent for a *structured* verdict and writes ``evaluation_result``
    (a bool; never a substring test on the reply), ``message`` only appends to ``messages``.
    ``agent_version`` pins a version; ``None`` means the latest at run start (the run records it).
    """

    agent_id: Ref
    agent_version: int | None = Field(default=None, ge=1)
    output_behavior: Literal["proposal", "evaluation", "message"] = "proposal"
    output_key: StateKey | None = None
    instructions: Text | None = None


class RouteRule(Strict):
    """``branch`` is taken when ``when`` (a safe expression on state) is true."""

    when: ExpressionSource
    branch: Label


RouterEvaluation = Literal["is_approved", "cycle_limit", "rules", "agent_choice"]

#: Labels each fixed evaluation can produce. ``rules``/``agent_choice`` produce declared labels.
FIXED_OUTCOMES: dict[str, tuple[str, ...]] = {
    "is_approved": ("approved", "rejected"),
    "cycle_limit": ("exceeded", "continue"),
}


class RouterConfig(NodeConfig):
    """Chooses exactly one of its declared, labelled ``branches`` by structured evaluation.

    * ``is_approved``: ``approved`` when ``state[key]`` is ``True``, else ``rejected``;
    * ``cycle_limit``: ``exceeded`` once ``_cycle_count >= max_cycles``, else ``continue``;
    * ``rules``: the branch of the first rule whose expression holds, else ``default``;
    * ``agent_choice``: the agent picks a label through structured output constrained to
      ``branches`` (an enum), never by searching its free text.
    """

    evaluation: RouterEvaluation = "is_approved"
    branches: list[Label] = Field(min_length=1, max_length=32)
    default: Label | None = None
    key: StateKey = "evaluation_result"
    max_cycles: int = Field(default=50, ge=1, le=10_000)
    rules: list[RouteRule] = Field(default_factory=list, max_length=64)
    agent_id: Ref | None = None
    instructions: Text | None = None

    @model_validator(mode="after")
    def _branches_match_evaluation(self) -> RouterConfig:
        if len(set(self.branches)) != len(self.branches):
            raise ValueError("branches must be unique")
        declared = set(self.branches)
        if self.default is not None and self.default not in declared:
            raise ValueError(f"default {self.default!r} is not a declared branch")
        produced = self.outcomes()
        if self.evaluation == "rules" and not self.rules:
            raise ValueError("evaluation 'rules' needs at least one rule")
        if self.evaluation == "rules" and self.default is None:
            raise ValueError("evaluation 'rules' needs a default branch for when no rule holds")
        if self.evaluation == "agent_choice" and self.agent_id is None:
            raise ValueError("evaluation 'agent_choice' needs an agent_id")
        if undeclared := [label for label in produced if label not in declared]:
            raise ValueError(f"evaluation {self.evaluation!r} can yield undeclared {undeclared}")
        if never := [label for label in self.branches if label not in produced]:
            raise ValueError(f"branches {never} can never be chosen by {self.evaluation!r}")
        return self

    def outcomes(self) -> list[str]:
        """Every label this router's evaluation can yield."""
        if self.evaluation in FIXED_OUTCOMES:
            return list(FIXED_OUTCOMES[self.evaluation])
        if self.evaluation == "rules":
            labels = [rule.branch for rule in self.rules]
            labels += [self.default] if self.default is not None else []
            return list(dict.fromkeys(labels))
        return list(self.branches)

    def expressions(self) -> list[tuple[ExpressionLoc, str]]:
        return [(("rules", i, "when"), rule.when) for i, rule in enumerate(self.rules)]


CONDITION_BRANCHES = ("true", "false")


class ConditionConfig(NodeConfig):
    """Evaluates ``expression`` on state; leaves through the edge labelled ``true`` or ``false``."""

    expression: ExpressionSource

    def expressions(self) -> list[tuple[ExpressionLoc, str]]:
        return [(("expression",), self.expression)]


class ParallelConfig(NodeConfig):
    """Fans out: every outgoing edge starts a branch, all in the same step."""

    max_concurrency: int | None = Field(default=None, ge=1, le=64)


Reducer = Literal["append", "extend", "merge", "sum", "max", "min", "last"]


class JoinConfig(NodeConfig):
    """Waits for *all* incoming branches, combining each listed state key with its reducer.

    Keys without a reducer must be written by at most one branch (the compiler enforces this).
    """

    reducers: dict[StateKey, Reducer] = Field(default_factory=dict)


class HumanInputConfig(NodeConfig):
    """Pauses the run (interrupt) until someone answers ``prompt``, from the room or the API."""

    prompt: Text
    output_key: StateKey = "human_input"
    choices: list[Label] | None = Field(default=None, min_length=1, max_length=32)
    audience: Literal["room", "initiator"] = "room"
    timeout_s: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)


# ------------------------------------------------------------------------------ nodes, edges


class Position(Strict):
    """Where the editor draws a node; meaningless to the engine, kept for the round trip."""

    x: float
    y: float


class _NodeBase(Strict):
    id: NodeId
    label: Annotated[str, Field(max_length=200)] | None = None
    position: Position | None = None
    ui: UiData = Field(default_factory=dict)


class StartNode(_NodeBase):
    type: Literal["start"] = "start"
    config: StartConfig = StartConfig()


class EndNode(_NodeBase):
    type: Literal["end"] = "end"
    config: EndConfig = EndConfig()


class AgentNode(_NodeBase):
    type: Literal["agent"] = "agent"
    config: AgentConfig


class RouterNode(_NodeBase):
    type: Literal["router"] = "router"
    config: RouterConfig


class ConditionNode(_NodeBase):
    type: Literal["condition"] = "condition"
    config: ConditionConfig


class ParallelNode(_NodeBase):
    type: Literal["parallel"] = "parallel"
    config: ParallelConfig = ParallelConfig()


class JoinNode(_NodeBase):
    type: Literal["join"] = "join"
    config: JoinConfig = JoinConfig()


class HumanInputNode(_NodeBase):
    type: Literal["human_input"] = "human_input"
    config: HumanInputConfig


class ToolNode(_NodeBase):
    type: Literal["tool"] = "tool"
    config: ToolConfig


class HttpNode(_NodeBase):
    type: Literal["http"] = "http"
    config: HttpConfig


class ActionNode(_NodeBase):
    type: Literal["action"] = "action"
    config: ActionConfig


class SubworkflowNode(_NodeBase):
    type: Literal["subworkflow"] = "subworkflow"
    config: SubworkflowConfig


AnyNode = (
    StartNode
    | EndNode
    | AgentNode
    | RouterNode
    | ConditionNode
    | ParallelNode
    | JoinNode
    | HumanInputNode
    | ToolNode
    | HttpNode
    | ActionNode
    | SubworkflowNode
)
Node = Annotated[AnyNode, Field(discriminator="type")]

NODE_CLASSES: dict[str, type[_NodeBase]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        StartNode,
        EndNode,
        AgentNode,
        RouterNode,
        ConditionNode,
        ParallelNode,
        JoinNode,
        HumanInputNode,
        ToolNode,
        HttpNode,
        ActionNode,
        SubworkflowNode,
    )
}
NODE_TYPES = frozenset(NODE_CLASSES)
#: Nodes whose outgoing edges are labelled branches, exactly one of which is taken.
BRANCHING_TYPES = frozenset({"router", "condition"})


def config_class(node_type: str) -> type[NodeConfig]:
    """The config model of a node type (``KeyError`` for unknown types)."""
    annotation: Any = NODE_CLASSES[node_type].model_fields["config"].annotation
    assert isinstance(annotation, type)
    assert issubclass(annotation, NodeConfig)
    return annotation


class Edge(Strict):
    """A directed edge. ``label`` names the branch on edges leaving a router/condition node;
    ``kind`` is the reference's semantic edge type (forward, evaluate, …), ignored by the engine.
    """

    id: Ref
    source: NodeId
    target: NodeId
    label: Label | None = None
    kind: Annotated[str, Field(min_length=1, max_length=64)] = "forward"
    ui: UiData = Field(default_factory=dict)


class RunLimits(Strict):
    """Budgets every run of the workflow gets; whichever is hit first ends the run.

    The step budget is the backstop for loops that never reach their exit condition.
    """

    max_steps: int = Field(default=100, ge=1, le=10_000)
    max_tokens: int = Field(default=200_000, ge=1, le=10_000_000)
    max_cost_usd: float = Field(default=5.0, gt=0, le=1_000)
    timeout_s: float = Field(default=1800.0, gt=0, le=7 * 24 * 3600)


MAX_NODES = 500
MAX_EDGES = 2000


class WorkflowGraph(Strict):
    """One workflow version's graph; build it with ``parse_graph`` to get every check."""

    schema_version: Literal[1] = 1
    nodes: list[Node] = Field(max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)
    limits: RunLimits = RunLimits()
    ui: UiData = Field(default_factory=dict)
