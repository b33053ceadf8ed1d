"""Read views of a room's graph: pages for visualisation, status counts, community cards."""

from __future__ import annotations

from collections.abc import Sequence

from coagent_graphrag_query.graph_builds import GraphBuilds
from coagent_graphrag_query.graph_schemas import (
    CommunityRead,
    GraphBuildRead,
    GraphEdge,
    GraphNode,
    GraphRead,
    GraphState,
    GraphStatusRead,
)
from coagent_graphrag_query.ports import BuildStatusStore
from coagent_graphrag_query.schemas import BuildStatusRead
from coagent_graphstore.models import Community, Entity, Relation, Scope
from coagent_graphstore.ports import GraphStore

#: Entity names listed per community card.
KEY_ENTITIES = 10


class GraphViews:
    def __init__(
        self, graph: GraphStore, build_status: BuildStatusStore, builds: GraphBuilds | None = None
    ) -> None:
        self._graph, self._build_status = graph, build_status
        self._builds = builds

    async def page(self, scope: Scope, *, offset: int, limit: int) -> GraphRead:
        page = await self._graph.page(scope, offset=offset, limit=limit)
        communities = _top_level_membership(await self._graph.communities(scope))
        names = {e.key: e.name for e in page.entities}
        off_page = {r.target for r in page.relations if r.target not in names}
        if off_page:
            # Edges carry names, so endpoints on other pages are looked up once.
            names |= {e.key: e.name for e in await self._graph.entities(scope, list(off_page))}
        nodes = [_node(e, communities.get(e.key)) for e in page.entities]
        edges = [_edge(r, names) for r in page.relations if r.target in names]
        return GraphRead(
            nodes=nodes,
            edges=edges,
            node_count=len(nodes),
            edge_count=len(edges),
            total_nodes=page.total_entities,
            offset=offset,
            next_offset=page.next_offset,
        )

    async def status(self, scope: Scope) -> GraphStatusRead:
        stats = await self._graph.stats(scope)
        build = await self._build_status.get(scope.room_id)
        graph_build = await self._builds.current(scope.room_id) if self._builds else None
        state: GraphState = "ready"
        if build is not None and build.status == "failed":
            state = "failed"
        elif stats.entities == 0 and stats.chunks == 0:
            state = "empty"
        return GraphStatusRead(
            room_id=scope.room_id,
            state=state,
            node_count=stats.entities,
            edge_count=stats.relations,
            chunk_count=stats.chunks,
            community_count=stats.communities,
            is_building=graph_build is not None and graph_build.active,
            last_updated=build.updated_at.isoformat() if build else None,
            build=BuildStatusRead.of(build) if build else None,
            graph_build=GraphBuildRead.of(graph_build) if graph_build else None,
        )

    async def communities(self, scope: Scope) -> list[CommunityRead]:
        found = await self._graph.communities(scope)
        keys = list(dict.fromkeys(k for c in found for k in c.members[:KEY_ENTITIES]))
        names = {e.key: e.name for e in await self._graph.entities(scope, keys)} if keys else {}
        return [_community(c, names) for c in found]


def _top_level_membership(communities: Sequence[Community]) -> dict[str, str]:
    """Entity key → id of its community at the lowest level number (the coarsest)."""
    membership: dict[str, str] = {}
    for community in sorted(communities, key=lambda c: (c.level, c.id)):
        for key in community.members:
            membership.setdefault(key, community.id)
    return membership


def _node(entity: Entity, community_id: str | None) -> GraphNode:
    return GraphNode(
        id=entity.key,
        name=entity.name,
        type=entity.type,
        description=(
            entity.summary.text
            if entity.summary
            else " ".join(d.text for d in entity.descriptions if d.text)
        ),
        aliases=list(entity.aliases),
        community_id=community_id,
        sources=list(dict.fromkeys(entity.source_ids)),
    )


def _edge(relation: Relation, names: dict[str, str]) -> GraphEdge:
    return GraphEdge(
        source=names[relation.source],
        target=names[relation.target],
        relation=relation.relation,
        evidence=(
            relation.summary.text
            if relation.summary
            else " ".join(e.text for e in relation.evidence if e.text)
        ),
        weight=relation.weight,
        sources=list(dict.fromkeys(e.source_id for e in relation.evidence)),
    )


def _community(community: Community, names: dict[str, str]) -> CommunityRead:
    report = community.report
    return CommunityRead(
        community_id=community.id,
        level=community.level,
        parent_id=community.parent_id,
        title=report.title if report else f"Community {community.id}",
        summary=report.summary if report else "",
        key_findings=[f.summary for f in report.findings] if report else [],
        key_entities=[names.get(k, k) for k in community.members[:KEY_ENTITIES]],
        rating=report.rating if report else 0.0,
        sources=list(report.source_ids) if report else [],
    )
