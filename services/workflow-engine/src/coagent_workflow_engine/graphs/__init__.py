"""Workflow graph documents: the canonical model, editor-shape normalisation and validation.

Pure (no I/O): the API validates on save with :func:`parse_graph`, stores the canonical document
with the immutable version, serves :func:`to_editor` to the web client, and the compiler walks a
:class:`GraphIndex`.
"""

from coagent_workflow_engine.graphs.editor import to_editor
from coagent_workflow_engine.graphs.errors import (
    GraphInvalid,
    Problem,
    graph_invalid_handler,
    install_graph_errors,
)
from coagent_workflow_engine.graphs.expressions import (
    Expression,
    ExpressionError,
    compile_expression,
)
from coagent_workflow_engine.graphs.model import (
    SCHEMA_VERSION,
    AnyNode,
    Edge,
    RunLimits,
    WorkflowGraph,
)
from coagent_workflow_engine.graphs.normalise import normalise
from coagent_workflow_engine.graphs.queries import GraphIndex
from coagent_workflow_engine.graphs.validate import check_graph, parse_graph

__all__ = [
    "SCHEMA_VERSION",
    "AnyNode",
    "Edge",
    "Expression",
    "ExpressionError",
    "GraphIndex",
    "GraphInvalid",
    "Problem",
    "RunLimits",
    "WorkflowGraph",
    "check_graph",
    "compile_expression",
    "graph_invalid_handler",
    "install_graph_errors",
    "normalise",
    "parse_graph",
    "to_editor",
]
