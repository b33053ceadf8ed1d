"""Problems found in a submitted graph, and the 422 that carries them.

A problem is shaped like one item of FastAPI's validation errors (``loc``, ``msg``, ``type``) so
clients that already render those render these too. ``loc`` is a JSON path into the document *as
submitted* (editor shape included), not into the normalised one, so the editor can highlight the
node or edge the user actually drew.
"""

from __future__ import annotations

from typing import TypedDict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from coagent_kit.errors import Unprocessable, error_body

__all__ = ["GraphInvalid", "Loc", "Problem", "graph_invalid_handler", "install_graph_errors"]

Loc = tuple[str | int, ...]


class Problem(TypedDict):
    """One problem: where (JSON path), what (human text), and a stable snake_case code."""

    loc: list[str | int]
    msg: str
    type: str


def problem(loc: Loc | list[str | int], msg: str, code: str) -> Problem:
    """A problem at ``loc``."""
    return {"loc": list(loc), "msg": msg, "type": code}


class GraphInvalid(Unprocessable):
    """The submitted graph has problems; ``problems`` lists every one of them.

    ``detail`` stays a string because the kit's ``ServiceError.detail`` is typed ``str``; the
    handler below renders ``problems`` as the ``detail`` list instead. Without the handler the
    kit still answers 422 ``invalid_graph`` with the readable summary.
    """

    code = "invalid_graph"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(_summary(problems))
        self.problems = problems


def _summary(problems: list[Problem]) -> str:
    shown = "; ".join(f"{_path(p['loc'])}: {p['msg']}" for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"invalid graph: {shown}{more}" if problems else "invalid graph"


def _path(loc: list[str | int]) -> str:
    return "/".join(str(part) for part in loc) or "(document)"


async def graph_invalid_handler(_: Request, exc: Exception) -> JSONResponse:
    """Render :class:`GraphInvalid` as ``{"detail": [problems…], "code": "invalid_graph"}``."""
    assert isinstance(exc, GraphInvalid)
    return JSONResponse(error_body(exc.problems, exc.code), exc.status)


def install_graph_errors(app: FastAPI) -> None:
    """Register the handler; Starlette picks it over the kit's ``ServiceError`` one (closer MRO)."""
    app.add_exception_handler(GraphInvalid, graph_invalid_handler)
