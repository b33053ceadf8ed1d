"""The ``update_artifact`` action: ask chat, the owner of artifacts, to write one.

The request is an event written with the step (same transaction as its ``NodeFinishedV1``), so
it is published exactly when the step is recorded: a node re-entered after a crash returns its
recorded output and publishes nothing again. Chat applies each event once (by event id) and
keys artifacts this node creates by ``<run_id>.<node_id>``, so a run looping through the node
updates the artifact it created instead of creating another.
"""

from __future__ import annotations

from typing import Any

from coagent_contracts.workflow import ArtifactWriteRequestedData, ArtifactWriteRequestedV1
from coagent_workflow_engine.graphs.model import ActionNode
from coagent_workflow_engine.lifecycle import PRODUCER
from coagent_workflow_engine.runtime.context import NodeResult, RunContext
from coagent_workflow_engine.runtime.deps import NodeError
from coagent_workflow_engine.runtime.templates import render

State = dict[str, Any]


def write_key(run_id: str, node_id: str) -> str:
    """The key chat files the artifact a node creates under (one artifact per run and node)."""
    return f"{run_id}.{node_id}"


def artifact_content(node: ActionNode, state: State) -> Any:
    """The value written: ``from_key``'s state value, else the rendered ``text``."""
    cfg = node.config
    value = state.get(cfg.from_key) if cfg.from_key else render(cfg.text or "", state)
    if value is None or value == "":
        raise NodeError("nothing to write: the artifact content is empty")
    if not isinstance(value, str | dict):
        value = str(value)
    return value


async def update_artifact(ctx: RunContext, node: ActionNode, state: State, step: int) -> NodeResult:
    cfg, run = node.config, ctx.run
    if run.room_id is None:
        raise NodeError("update_artifact needs a run bound to a room")
    key = write_key(run.id, node.id)
    event = ArtifactWriteRequestedV1(
        producer=PRODUCER,
        correlation_id=run.id,
        data=ArtifactWriteRequestedData(
            run_id=run.id,
            workflow_id=run.workflow_id,
            workflow_version=run.workflow_version,
            room_id=run.room_id,
            node_id=node.id,
            write_key=key,
            artifact_id=cfg.artifact_id,
            artifact_type=cfg.artifact_type,
            title=render(cfg.title, state) if cfg.title else None,
            content=artifact_content(node, state),
            mode=cfg.mode,
            written_by=f"workflow:{run.workflow_id}",
        ),
    )
    recorded = {"action_type": cfg.action_type, "write_key": key, "request_id": event.event_id}
    if cfg.artifact_id:
        recorded["artifact_id"] = cfg.artifact_id
    return NodeResult({}, recorded, events=[event])
