"""Save-time check of subworkflow references: a workflow may not end up calling itself.

A ``subworkflow`` node names a workflow (and optionally a pinned version). Saving a version
whose nodes lead back to the workflow being saved, directly or through other workflows' current
(or pinned) versions, is refused with the path of the offending node. References that change
later are caught at run time by the engine's depth and ancestry checks.
"""

from __future__ import annotations

from typing import Any

from coagent_workflow_engine.graphs import GraphInvalid, WorkflowGraph
from coagent_workflow_engine.graphs.errors import Problem, problem
from coagent_workflow_engine.graphs.model import SubworkflowNode
from coagent_workflow_engine.workflows.ports import WorkflowRepository

#: How many referenced workflows one check reads at most (a bound on the save's cost).
MAX_VISITED = 200


def _references(graph: dict[str, Any]) -> list[tuple[str, int | None]]:
    found = []
    for node in graph.get("nodes") or []:
        if isinstance(node, dict) and node.get("type") == "subworkflow":
            config = node.get("config") or {}
            found.append((str(config.get("workflow_id")), config.get("version")))
    return found


async def _reaches(
    repo: WorkflowRepository, start: tuple[str, int | None], target: str
) -> list[str] | None:
    """The chain of workflow ids from ``start`` back to ``target``, if there is one."""
    pending: list[tuple[tuple[str, int | None], list[str]]] = [(start, [start[0]])]
    seen: set[tuple[str, int | None]] = set()
    while pending and len(seen) < MAX_VISITED:
        (workflow_id, number), chain = pending.pop()
        if workflow_id == target:
            return chain
        if (workflow_id, number) in seen:
            continue
        seen.add((workflow_id, number))
        workflow = await repo.get(workflow_id)
        if workflow is None:
            continue
        version = await repo.version(workflow_id, number or workflow.current_version)
        if version is not None:
            pending += [(ref, [*chain, ref[0]]) for ref in _references(version.graph)]
    return None


async def check_no_cycle(repo: WorkflowRepository, workflow_id: str, graph: WorkflowGraph) -> None:
    """``GraphInvalid`` when a subworkflow node of ``graph`` leads back to ``workflow_id``."""
    problems: list[Problem] = []
    for index, node in enumerate(graph.nodes):
        if not isinstance(node, SubworkflowNode):
            continue
        ref = (node.config.workflow_id, node.config.version)
        chain = await _reaches(repo, ref, workflow_id)
        if chain is not None:
            path = " → ".join([workflow_id, *chain])
            message = f"subworkflow cycle: {path}"
            problems.append(problem(("nodes", index, "config", "workflow_id"), message, "cycle"))
    if problems:
        raise GraphInvalid(problems)
