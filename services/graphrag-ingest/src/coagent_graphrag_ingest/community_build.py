"""Refreshing a room's communities and reports through the ports.

The room's graph is read whole (up to a cap) and put in a canonical order (entities by key,
relations by identity: no store promises an order), clustered again, and only the communities
whose report input changed get a new report: a refresh of an unchanged room makes no model call.
The communities counted in the refresh's result are exactly the ones stored. Reports and their
vectors cite every source their input held, so forgetting a source drops them at once; the next
refresh writes them again without it.

A refresh stores as it goes: the new partition first (each community showing the report it had
until its new one is written), then each report the moment it is written, then the final set
(reports that could not be written again dropped). A refresh cut short (a stopped or killed
build) therefore keeps every report it wrote, and its rerun finds them by their fingerprint and
writes only the rest. Each store is a whole-set replace, so readers never see two partitions
mixed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from coagent_graphrag_ingest.communities import canonical_relations, partition
from coagent_graphrag_ingest.ports import Embedder, UnitOfWorkFactory
from coagent_graphrag_ingest.reports import Reporter, ReportInput, fingerprint, finish, report_input
from coagent_graphstore.models import (
    Community,
    CommunityReport,
    Entity,
    Relation,
    Scope,
    VectorItem,
)
from coagent_graphstore.ports import GraphStore, VectorIndex
from coagent_kit.logging import get_logger

log = get_logger(__name__)
#: Entities read per room for clustering (pages of 1,000); a larger room is clustered partially.
MAX_ENTITIES = 20_000
_PAGE = 1000

Progress = Callable[[str, int, int], Awaitable[None]]
"""``(stage, done, total)``: called as a refresh advances."""


@dataclass(frozen=True, slots=True)
class RefreshReport:
    communities: int
    levels: int
    reports_written: int
    reports_kept: int
    failed: tuple[str, ...] = ()
    changed: bool = False


async def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def report_text(report: CommunityReport) -> str:
    """What a report's vector embeds: title, summary and findings."""
    findings = " ".join(f.summary for f in report.findings)
    return f"{report.title}. {report.summary} {findings}".strip()


class CommunityBuilder:
    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        graph: GraphStore,
        vectors: VectorIndex,
        embedder: Embedder,
        reporter: Reporter,
        *,
        max_cluster_size: int = 10,
        report_chars: int = 6000,
    ) -> None:
        self._uow = unit_of_work
        self._graph, self._vectors, self._embedder = graph, vectors, embedder
        self._reporter = reporter
        self._max_cluster_size = max_cluster_size
        self._report_chars = report_chars

    async def refresh(self, room_id: str, progress: Progress = _no_progress) -> RefreshReport:
        scope = Scope(room_id)
        await progress("clustering", 0, 1)
        entities, relations = await self._room_graph(scope)
        previous = await self._graph.communities(scope)
        fresh = partition(relations, previous, max_cluster_size=self._max_cluster_size)
        await progress("clustering", 1, 1)
        old = {c.id: c for c in previous}
        inputs = self._inputs(fresh, entities, relations)
        prints = {cid: fingerprint(self._reporter.version, i) for cid, i in inputs.items()}
        todo = [c for c in fresh if _stale(old.get(c.id), prints[c.id])]
        # The new partition goes in first, each community keeping the report it had; every
        # report written then replaces its community's at once, so a crash loses none.
        stored = _StoredSet(self._graph, self._vectors, self._embedder, scope, previous)
        await stored.swap([replace(c, report=_previous_report(old.get(c.id))) for c in fresh])
        written, failed = await self._write_reports(room_id, todo, inputs, prints, progress, stored)
        # Reports that could not be written again are dropped rather than left stale.
        result = [
            replace(c, report=written.get(c.id) or _kept(old.get(c.id), prints[c.id]))
            for c in fresh
        ]
        await stored.swap(result)
        return RefreshReport(
            communities=len(result),
            levels=len({c.level for c in result}),
            reports_written=len(written),
            reports_kept=sum(1 for c in result if c.report) - len(written),
            failed=tuple(failed),
            changed=stored.changed,
        )

    def _inputs(
        self, fresh: Sequence[Community], entities: Sequence[Entity], relations: Sequence[Relation]
    ) -> dict[str, ReportInput]:
        """Each community's facts, reading only its members' entities and relations."""
        by_key = {e.key: e for e in entities}
        touching: dict[str, list[Relation]] = defaultdict(list)
        for r in relations:
            touching[r.source].append(r)
            touching[r.target].append(r)
        inputs: dict[str, ReportInput] = {}
        for c in fresh:
            members = [by_key[k] for k in c.members if k in by_key]
            near = {r.ident: r for k in c.members for r in touching.get(k, ())}
            inputs[c.id] = report_input(
                c, members, list(near.values()), max_chars=self._report_chars
            )
        return inputs

    async def _write_reports(
        self,
        room_id: str,
        todo: Sequence[Community],
        inputs: dict[str, ReportInput],
        prints: dict[str, str],
        progress: Progress,
        stored: _StoredSet,
    ) -> tuple[dict[str, CommunityReport], list[str]]:
        written: dict[str, CommunityReport] = {}
        failed: list[str] = []
        if not todo:
            await progress("reports", 0, 0)
            return written, failed
        artifacts = await self._artifact_ids(room_id)
        for done, community in enumerate(todo):
            await progress("reports", done, len(todo))
            facts = inputs[community.id]
            try:
                draft = await self._reporter.report(facts)
            except Exception as exc:  # one failed report must not stop the others
                log.warning("community_report_failed", room_id=room_id,
                            community_id=community.id, error=str(exc))  # fmt: skip
                failed.append(f"{community.id}: {exc}")
                continue
            report = finish(draft, facts, prints[community.id], artifacts)
            await stored.put_report(community.id, report)
            written[community.id] = report
        await progress("reports", len(todo), len(todo))
        return written, failed

    async def _artifact_ids(self, room_id: str) -> set[str]:
        """Which source ids are artifacts (findings cite messages and artifacts separately)."""
        async with self._uow() as uow:
            sources = await uow.sources.for_room(room_id)
        return {s.source_id for s in sources if s.source_kind == "artifact"}

    async def _room_graph(self, scope: Scope) -> tuple[list[Entity], list[Relation]]:
        entities: list[Entity] = []
        relations: list[Relation] = []
        offset: int | None = 0
        while offset is not None and len(entities) < MAX_ENTITIES:
            page = await self._graph.page(scope, offset=offset, limit=_PAGE)
            entities.extend(page.entities)
            relations.extend(page.relations)
            offset = page.next_offset
        unique = {e.key: e for e in entities}
        return [unique[k] for k in sorted(unique)], canonical_relations(relations)


class _StoredSet:
    """The room's stored community set while a refresh changes it, one whole set per write.

    Every write replaces the whole set (``replace_communities``), so a reader sees either the
    previous partition or the new one, never a mix of both. A report's vector is stored before
    the report itself: a report found stored on a rerun always has its vector, and a vector
    whose report is not stored yet is replaced when the report is written again.
    """

    def __init__(
        self,
        graph: GraphStore,
        vectors: VectorIndex,
        embedder: Embedder,
        scope: Scope,
        previous: Sequence[Community],
    ) -> None:
        self._graph, self._vectors, self._embedder = graph, vectors, embedder
        self._scope = scope
        self._current = {c.id: c for c in previous}
        self._initial = dict(self._current)

    @property
    def changed(self) -> bool:
        return self._current != self._initial

    async def swap(self, communities: Sequence[Community]) -> None:
        """Make ``communities`` the stored set (nothing is written when it already is)."""
        wanted = {c.id: c for c in communities}
        if wanted == self._current:
            return
        reported = {cid for cid, c in wanted.items() if c.report}
        gone = [cid for cid, c in self._current.items() if c.report and cid not in reported]
        if gone:  # before the swap: a vector never outlives its report
            await self._vectors.delete(self._scope, "community", gone)
        await self._graph.replace_communities(self._scope, list(wanted.values()))
        self._current = wanted

    async def put_report(self, community_id: str, report: CommunityReport) -> None:
        """Store one new report (and its vector) on its community of the stored set."""
        text = report_text(report)
        (vector,) = self._embedder.embed([text])
        item = VectorItem(community_id, "community", tuple(vector), report.source_ids, text)
        await self._vectors.upsert(self._scope, [item])
        community = replace(self._current[community_id], report=report)
        await self.swap(list({**self._current, community_id: community}.values()))


def _stale(old: Community | None, print_: str) -> bool:
    return old is None or old.report is None or old.report.fingerprint != print_


def _kept(old: Community | None, print_: str) -> CommunityReport | None:
    return None if old is None or _stale(old, print_) else old.report


def _previous_report(old: Community | None) -> CommunityReport | None:
    """What a community shows while its new report is written: the one it had, if any."""
    return old.report if old is not None else None
