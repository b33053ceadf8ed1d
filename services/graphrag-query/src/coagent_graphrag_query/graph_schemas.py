"""HTTP shapes of the public graph routes (the fields the web client reads, plus paging).

The gateway forwards ``/api/v1/graph/{room_id}…`` here unchanged, so these are the public
shapes: ``nodes``/``edges``/``node_count``/``edge_count`` for the graph view, the counts of
``/status``, the community cards, and the ``{answer, intent, sources}`` of a question.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from coagent_graphrag_query.answers import Answer, Passage
from coagent_graphrag_query.graph_builds import BuildState, GraphBuild
from coagent_graphrag_query.schemas import BuildStatusRead
from coagent_graphrag_query.search import RequestedMode

GraphState = Literal["empty", "ready", "failed"]

NO_ANSWER = "Nothing in this room's conversation answers that question."


class GraphNode(BaseModel):
    id: str = Field(description="The entity key (normalised name), stable across pages")
    name: str
    type: str
    description: str
    aliases: list[str]
    community_id: str | None = Field(description="The top-level community, if built")
    sources: list[str] = Field(description="Message or artifact ids the entity comes from")


class GraphEdge(BaseModel):
    source: str = Field(description="Name of the source node")
    target: str = Field(description="Name of the target node (possibly on another page)")
    relation: str
    evidence: str
    weight: float
    sources: list[str]


class GraphRead(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    node_count: int = Field(description="Nodes on this page")
    edge_count: int = Field(description="Edges on this page")
    total_nodes: int
    offset: int
    next_offset: int | None = Field(description="Where the next page starts; null on the last")


class GraphBuildRead(BaseModel):
    """A build of the room's graph (ingest, communities, reports) and how far it got."""

    room_id: str
    build_id: str
    status: BuildState
    stage: str = Field(description="queued, ingest, clustering, reports or done")
    progress: float = Field(description="0 to 1")
    attempt: int = Field(
        description="Run of the build shown (1; more after its ingest process stopped mid-build)"
    )
    done: int = Field(description="Units of the stage done (reports, while writing reports)")
    total: int
    communities: int
    reports_written: int
    error: str | None
    requested_at: str
    updated_at: str
    message: str = Field(description="A sentence for people")

    @classmethod
    def of(cls, build: GraphBuild) -> GraphBuildRead:
        return cls(
            room_id=build.room_id,
            build_id=build.build_id,
            status=build.status,
            stage=build.stage,
            progress=build.progress,
            attempt=build.attempt,
            done=build.done,
            total=build.total,
            communities=build.communities,
            reports_written=build.reports_written,
            error=build.error,
            requested_at=build.requested_at.isoformat(),
            updated_at=build.updated_at.isoformat(),
            message=_build_message(build),
        )


def _build_message(build: GraphBuild) -> str:
    if build.status == "succeeded":
        return f"Graph built: {build.communities} communities, {build.reports_written} new reports."
    if build.status == "failed":
        return f"Graph build failed: {build.error}"
    return "Graph build started." if build.status == "queued" else f"Building ({build.stage})."


class GraphStatusRead(BaseModel):
    room_id: str
    state: GraphState = Field(
        description="empty: nothing stored yet; failed: the latest ingest job failed; else ready"
    )
    node_count: int
    edge_count: int
    chunk_count: int
    community_count: int
    is_building: bool = Field(description="Whether a requested build is queued or running")
    last_updated: str | None = Field(description="When the latest ingest job ended (ISO 8601)")
    build: BuildStatusRead | None = Field(description="Totals over the room's ingest jobs")
    graph_build: GraphBuildRead | None = Field(
        default=None, description="The latest requested build (POST /build)"
    )


class CommunityRead(BaseModel):
    community_id: str
    level: int
    parent_id: str | None
    title: str
    summary: str
    key_findings: list[str]
    key_entities: list[str]
    rating: float
    sources: list[str]


class QuestionIn(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    mode: RequestedMode = Field(
        default="auto",
        description="auto chooses global (questions about the whole room, once communities "
        "exist), local (named entities) or basic (chunks)",
    )
    level: int | None = Field(
        default=None, ge=0, le=16,
        description="Community level global search reads (default: the coarsest with reports)",
    )  # fmt: skip


class CitationRead(BaseModel):
    number: int = Field(description="The [n] marker used in the answer")
    chunk_id: str = Field(description="The chunk, or for global answers '<community>#finding-<n>'")
    message_ids: list[str]
    artifact_ids: list[str]
    text: str
    score: float

    @classmethod
    def of(cls, passage: Passage) -> CitationRead:
        return cls(
            number=passage.number,
            chunk_id=passage.chunk_id,
            message_ids=list(passage.message_ids),
            artifact_ids=list(passage.artifact_ids),
            text=passage.text,
            score=passage.score,
        )


class ClaimRead(BaseModel):
    text: str
    citations: list[int]
    message_ids: list[str]


class AnswerRead(BaseModel):
    answer: str
    found: bool = Field(description="False when nothing in the room supports an answer")
    intent: Literal["global", "local"] = Field(description="global for global search, else local")
    mode: Literal["basic", "local", "global"]
    sources: list[str] = Field(description="Message ids the answer cites")
    citations: list[CitationRead]
    claims: list[ClaimRead]
    entities: list[str] = Field(description="Entity keys the question was linked to")

    @classmethod
    def of(cls, answer: Answer) -> AnswerRead:
        cited = {p.number: p for p in answer.cited}
        claims = [
            ClaimRead(
                text=c.text,
                citations=list(c.passages),
                message_ids=list(
                    dict.fromkeys(m for n in c.passages for m in cited[n].message_ids)
                ),
            )
            for c in answer.claims
        ]
        return cls(
            answer=answer.text or NO_ANSWER,
            found=bool(answer.claims),
            intent="global" if answer.mode == "global" else "local",
            mode=answer.mode,
            sources=list(answer.message_ids),
            citations=[CitationRead.of(p) for p in answer.cited],
            claims=claims,
            entities=list(answer.entities),
        )
