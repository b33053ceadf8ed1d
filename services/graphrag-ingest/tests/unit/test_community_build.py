"""Community refreshes on memory adapters: reports written once, again only when their input
changed, citing messages and artifacts, and gone with a forgotten source."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from coagent_graphrag_ingest.adapters.memory import MemoryStore, MemoryUnitOfWork
from coagent_graphrag_ingest.chunking import SourceRecord
from coagent_graphrag_ingest.community_build import CommunityBuilder
from coagent_graphrag_ingest.reports import (
    DraftFinding,
    OfflineReporter,
    ReportDraft,
    Reporter,
    ReportInput,
    fingerprint,
    finish,
    report_input,
)
from coagent_graphstore.adapters.memory import MemoryGraphStore, MemoryVectorIndex
from coagent_graphstore.embedding import FeatureHashingEmbedder
from coagent_graphstore.models import (
    Community,
    EntityUpsert,
    Evidence,
    Relation,
    RelationUpsert,
    Scope,
)

ROOM = "room-1"
SCOPE = Scope(ROOM)
DIMENSION = 64


class CountingReporter:
    def __init__(self) -> None:
        self.inner = OfflineReporter()
        self.calls: list[str] = []

    @property
    def version(self) -> str:
        return self.inner.version

    async def report(self, facts: ReportInput) -> ReportDraft:
        self.calls.append(facts.community_id)
        return await self.inner.report(facts)


class Room:
    def __init__(self, graph: MemoryGraphStore | None = None) -> None:
        self.store = MemoryStore()
        self.graph = graph or MemoryGraphStore()
        self.vectors = MemoryVectorIndex(DIMENSION)
        self.reporter = CountingReporter()
        self.builder = self.builder_with(self.reporter)

    def builder_with(self, reporter: Reporter) -> CommunityBuilder:
        return CommunityBuilder(
            lambda: MemoryUnitOfWork(self.store), self.graph, self.vectors,
            FeatureHashingEmbedder(DIMENSION), reporter, max_cluster_size=3,
        )  # fmt: skip

    async def say(self, source: str, a: str, b: str, text: str) -> None:
        await self.graph.upsert_entities(SCOPE, [
            EntityUpsert(a, "CONCEPT", source, f"{a}: {text}"),
            EntityUpsert(b, "CONCEPT", source, f"{b}: {text}"),
        ])  # fmt: skip
        await self.graph.upsert_relations(SCOPE, [RelationUpsert(a, b, "RELATED_TO", source, text)])

    async def communities(self) -> dict[str, Community]:
        return {c.id: c for c in await self.graph.communities(SCOPE)}


@pytest.fixture
async def room() -> Room:
    return await populated(Room())


async def populated(r: Room) -> Room:
    # Two topics joined by nothing: databases (four entities) and the demo (three).
    await r.say("m1", "PostgreSQL", "Alembic", "Alembic migrates PostgreSQL.")
    await r.say("m2", "PostgreSQL", "Indexes", "Indexes speed up PostgreSQL.")
    await r.say("m3", "Alembic", "Indexes", "Alembic creates the indexes.")
    await r.say("m4", "PostgreSQL", "Backups", "Backups of PostgreSQL run nightly.")
    await r.say("a1", "Demo", "Room 204", "The demo is in room 204.")
    await r.say("m5", "Demo", "Friday", "The demo is on Friday.")
    await r.say("m6", "Friday", "Room 204", "Room 204 is booked on Friday.")
    r.store.sources[(ROOM, "a1")] = SourceRecord("artifact", "a1", "Plan", "artifact", "…")
    return r


async def test_a_first_refresh_writes_every_report_and_a_second_writes_none(room: Room) -> None:
    first = await room.builder.refresh(ROOM)

    assert first.communities == len(room.reporter.calls) >= 2
    assert first.levels == 2  # the four database entities exceed the cap of three
    communities = await room.communities()
    assert all(c.report and c.report.findings for c in communities.values())
    demo = next(c for c in communities.values() if "demo" in c.members and c.level == 0)
    assert demo.report is not None
    cited = {s for f in demo.report.findings for s in f.message_ids}
    assert cited <= {"m5", "m6"}
    assert {s for f in demo.report.findings for s in f.artifact_ids} <= {"a1"}
    assert "a1" in demo.report.source_ids
    hits = await room.vectors.search(SCOPE, [1.0] * DIMENSION, k=50, kinds=["community"])
    assert {h.id for h in hits} == set(communities)

    room.reporter.calls.clear()
    second = await room.builder.refresh(ROOM)

    assert room.reporter.calls == []
    assert (second.reports_written, second.changed) == (0, False)
    assert await room.communities() == communities


async def test_only_the_communities_whose_members_said_more_get_new_reports(room: Room) -> None:
    await room.builder.refresh(ROOM)
    before = await room.communities()
    room.reporter.calls.clear()

    await room.say("m7", "Demo", "Friday", "The demo moved to Friday morning.")
    await room.builder.refresh(ROOM)

    after = await room.communities()
    assert set(after) == set(before)
    rewritten = set(room.reporter.calls)
    assert rewritten
    assert all({"demo", "friday"} & set(after[cid].members) for cid in rewritten)
    database = next(c for c in after.values() if "postgresql" in c.members and c.level == 0)
    assert database.id not in rewritten
    assert database.report == before[database.id].report


async def test_a_forgotten_source_leaves_no_report_citing_it(room: Room) -> None:
    await room.builder.refresh(ROOM)
    await room.graph.forget_sources(SCOPE, ["m5"])
    await room.vectors.delete_sources(SCOPE, ["m5"])
    dropped = [c for c in (await room.communities()).values() if c.report is None]
    assert dropped  # reports that read m5 are gone at once

    await room.builder.refresh(ROOM)

    for community in (await room.communities()).values():
        assert community.report is not None
        assert "m5" not in community.report.source_ids
        assert all("m5" not in f.message_ids for f in community.report.findings)


class Crash(BaseException):
    """The process going away mid-report: like a cancelled task, no ``except Exception`` stops
    it."""


class CrashingReporter(CountingReporter):
    def __init__(self, crash_on_call: int) -> None:
        super().__init__()
        self.crash_on_call = crash_on_call

    async def report(self, facts: ReportInput) -> ReportDraft:
        if len(self.calls) + 1 == self.crash_on_call:
            raise Crash
        return await super().report(facts)


class RecordingGraph(MemoryGraphStore):
    """Keeps every community set stored, as a reader could have seen it."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: list[list[Community]] = []

    async def replace_communities(self, scope: Scope, communities: Sequence[Community]) -> None:
        self.stored.append(list(communities))
        await super().replace_communities(scope, communities)


def shape(communities: Sequence[Community]) -> set[tuple[str, int, tuple[str, ...], str | None]]:
    return {(c.id, c.level, c.members, c.parent_id) for c in communities}


async def test_a_refresh_cut_short_keeps_its_reports_and_the_rerun_writes_only_the_rest(
    room: Room,
) -> None:
    crashing = CrashingReporter(crash_on_call=3)
    with pytest.raises(Crash):
        await room.builder_with(crashing).refresh(ROOM)

    stored = {cid for cid, c in (await room.communities()).items() if c.report}
    assert stored == set(crashing.calls)
    assert len(stored) == 2
    hits = await room.vectors.search(SCOPE, [1.0] * DIMENSION, k=50, kinds=["community"])
    assert {h.id for h in hits} == stored  # each stored report came with its vector

    rerun = await room.builder.refresh(ROOM)

    communities = await room.communities()
    assert all(c.report for c in communities.values())
    # Only the reports the cut-short refresh had not stored cost a call.
    assert sorted(room.reporter.calls) == sorted(set(communities) - stored)
    assert (rerun.reports_written, rerun.reports_kept) == (len(communities) - 2, 2)
    hits = await room.vectors.search(SCOPE, [1.0] * DIMENSION, k=50, kinds=["community"])
    assert {h.id for h in hits} == set(communities)


async def test_readers_see_one_partition_at_a_time_while_reports_are_stored_one_by_one() -> None:
    graph = RecordingGraph()
    room = await populated(Room(graph))
    await room.builder.refresh(ROOM)
    before = await room.communities()
    graph.stored.clear()

    await room.say("m7", "Demo", "Friday", "The demo moved to Friday morning.")
    await room.say("m8", "Lunch", "Pizza", "Lunch is pizza.")
    result = await room.builder.refresh(ROOM)

    after = await room.communities()
    assert shape(after.values()) != shape(before.values())  # a new partition
    new_reports = {cid for cid, c in after.items() if c.report != before.get(cid, c).report}
    new_reports |= set(after) - set(before)
    assert len(new_reports) == result.reports_written >= 2
    # The new partition first, then one store per new report, each showing one report more.
    assert len(graph.stored) == 1 + result.reports_written
    for n, seen in enumerate(graph.stored):
        assert shape(seen) == shape(after.values())
        fresh = {c.id for c in seen if c.report and c.report == after[c.id].report} & new_reports
        assert len(fresh) == n
        for c in seen:  # every report shown is either the one it had or its new one
            assert c.report in (before[c.id].report if c.id in before else None, after[c.id].report)


def test_findings_citing_no_known_fact_are_dropped() -> None:
    facts = ReportInput("c0-x", 0, (), ())
    draft = ReportDraft(
        title="T", summary="S", rating=4,
        findings=[DraftFinding(summary="Made up.", facts=[9])],
    )  # fmt: skip
    report = finish(draft, facts, "fp", set())
    assert report.findings == ()
    assert report.fingerprint == "fp"


async def test_report_facts_do_not_depend_on_the_order_or_precision_a_store_returns(
    room: Room,
) -> None:
    await room.say("m7", "PostgreSQL", "Alembic", "Alembic runs on PostgreSQL.")
    page = await room.graph.page(SCOPE, limit=100)
    community = Community("c0-x", 0, tuple(sorted(e.key for e in page.entities)), None)
    # As another store would hand it back: reversed, weights at 15 significant digits.
    returned = [
        Relation(r.source, r.target, r.relation,
                 tuple(Evidence(e.source_id, e.text, float(f"{e.weight + 0.1 / 3:.15g}"))
                       for e in r.evidence))
        for r in reversed(page.relations)
    ]  # fmt: skip
    exact = [
        Relation(r.source, r.target, r.relation,
                 tuple(Evidence(e.source_id, e.text, e.weight + 0.1 / 3) for e in r.evidence))
        for r in page.relations
    ]  # fmt: skip

    a = report_input(community, page.entities, exact, max_chars=6000)
    b = report_input(community, list(reversed(page.entities)), returned, max_chars=6000)

    assert a.facts == b.facts
    assert a.entities == b.entities
    assert fingerprint("v", a) == fingerprint("v", b)
