"""The public graph routes, served at the same paths the gateway forwards.

The gateway has already checked the caller may read the room; every route here still demands
a valid internal identity token, and every read is scoped to the room named in the path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from coagent_graphrag_query.graph_builds import GraphBuilds
from coagent_graphrag_query.graph_schemas import (
    AnswerRead,
    CommunityRead,
    GraphBuildRead,
    GraphRead,
    GraphStatusRead,
    QuestionIn,
)
from coagent_graphrag_query.graph_views import GraphViews
from coagent_graphrag_query.ndjson import NDJSON, ndjson_answer, wants_ndjson
from coagent_graphrag_query.search import SearchService
from coagent_graphstore.core import MAX_PAGE
from coagent_graphstore.models import Scope
from coagent_kit.auth import Identity

router = APIRouter(prefix="/api/v1/graph/{room_id}", tags=["graph"])


def _views(request: Request) -> GraphViews:
    views: GraphViews = request.app.state.graph_views
    return views


def _search(request: Request) -> SearchService:
    search: SearchService = request.app.state.search
    return search


def _builds(request: Request) -> GraphBuilds:
    builds: GraphBuilds = request.app.state.graph_builds
    return builds


Views = Annotated[GraphViews, Depends(_views)]
Builds = Annotated[GraphBuilds, Depends(_builds)]
Search = Annotated[SearchService, Depends(_search)]


@router.get("")
async def get_graph(
    room_id: str,
    identity: Identity,
    views: Views,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
) -> GraphRead:
    """One page of the room's entities (by key) with the edges leaving them."""
    return await views.page(Scope(room_id), offset=offset, limit=limit)


@router.get("/status")
async def get_status(room_id: str, identity: Identity, views: Views) -> GraphStatusRead:
    """What the room's graph holds and how its latest ingest job ended."""
    return await views.status(Scope(room_id))


@router.post("/build", status_code=202)
async def build(
    room_id: str, identity: Identity, builds: Builds, response: Response
) -> GraphBuildRead:
    """Build the room's graph now (ingest, communities, reports); progress shows in /status.

    While a build of the room is queued or running, asking again returns that build.
    """
    Scope(room_id)  # a room id the stores cannot hold is refused before anything is asked
    found, _ = await builds.request(room_id, identity.user_id)
    response.headers["Location"] = f"/api/v1/graph/{room_id}/status"
    return GraphBuildRead.of(found)


@router.get("/communities")
async def get_communities(room_id: str, identity: Identity, views: Views) -> list[CommunityRead]:
    """The room's communities with their reports (empty until communities are built)."""
    return await views.communities(Scope(room_id))


@router.post(
    "/query",
    response_model=AnswerRead,
    responses={200: {"content": {NDJSON: {"schema": {"type": "string"}}}}},
)
async def ask(
    room_id: str, body: QuestionIn, identity: Identity, search: Search, request: Request
) -> AnswerRead | StreamingResponse:
    """Answer a question from the room's conversation, citing the messages it relies on.

    With ``Accept: application/x-ndjson`` the answer is streamed: each supported claim as soon
    as it is grounded, then the whole answer (see docs/graphrag-answers.md).
    """
    if wants_ndjson(request):
        stream = search.stream(Scope(room_id), body.question, body.mode, level=body.level)
        return await ndjson_answer(stream)
    answer = await search.ask(Scope(room_id), body.question, body.mode, level=body.level)
    return AnswerRead.of(answer)
