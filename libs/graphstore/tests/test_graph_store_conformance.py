"""The GraphStore contract, run against every adapter (see conftest.py)."""

from __future__ import annotations

import pytest

from coagent_graphstore.errors import InvalidRecord, InvalidRequest, UnknownEntity
from coagent_graphstore.models import (
    Chunk,
    Community,
    CommunityReport,
    EntityMerge,
    EntityUpsert,
    Finding,
    RelationUpsert,
    Scope,
    SourcedText,
)
from coagent_graphstore.ports import GraphStore

# Quotes, backslashes and Cypher-looking text must round-trip as data, never as syntax.
NASTY = 'Bob\'s "db" \\ }) MATCH (n) DETACH DELETE n //'


def ent(
    name: str, source: str, text: str = "", type_: str = "CONCEPT", aliases: tuple[str, ...] = ()
) -> EntityUpsert:
    return EntityUpsert(name, type_, source, text or f"{name} in {source}", aliases)


async def seed(store: GraphStore, scope: Scope) -> None:
    """Alice -[USES]-> PostgreSQL, Alice -[KNOWS]-> Bob, Bob -[USES]-> Redis; chunks c1, c2."""
    await store.upsert_entities(scope, [
        ent("Alice", "m1", type_="PERSON"), ent("PostgreSQL", "m1", aliases=("Postgres",)),
        ent("Bob", "m2", type_="PERSON"), ent("Redis", "m2"),
    ])  # fmt: skip
    await store.upsert_relations(scope, [
        RelationUpsert("Alice", "Postgres", "USES", "m1", "Alice uses Postgres", 2.0),
        RelationUpsert("Alice", "Bob", "KNOWS", "m2", "Alice knows Bob", 0.5),
        RelationUpsert("Bob", "Redis", "USES", "m2", "Bob uses Redis", 1.0),
    ])  # fmt: skip
    await store.upsert_chunks(scope, [
        Chunk("c1", "Alice: I use Postgres", ("m1",), (), ("Alice", "PostgreSQL"), 0),
        Chunk("c2", "Bob: Redis here", ("m2",), ("art-1",), ("Bob", "Redis"), 1),
    ])  # fmt: skip


async def test_entities_resolve_by_name_and_alias_ignoring_case_and_spacing(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    by_alias = await graph_store.entity(room_a, "  postgres ")
    assert by_alias is not None
    assert (by_alias.key, by_alias.name, by_alias.aliases) == (
        "postgresql",
        "PostgreSQL",
        ("Postgres",),
    )
    found = await graph_store.entities(room_a, ["BOB", "alice", "bob", "nobody", ""])
    assert [e.key for e in found] == ["bob", "alice"]


async def test_a_name_that_is_an_entity_key_wins_over_an_alias(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await graph_store.upsert_entities(room_a, [ent("PG", "m2")])
    await graph_store.upsert_entities(room_a, [ent("Zeta", "m1", aliases=("pg", "Z"))])
    pg = await graph_store.entity(room_a, "pg")
    assert pg is not None
    assert pg.name == "PG"
    assert [e.name for e in await graph_store.entities(room_a, ["z", "pg"])] == ["Zeta", "PG"]


async def test_descriptions_are_kept_per_source_and_upserts_are_idempotent(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await graph_store.upsert_entities(
        room_a, [ent("Alice", "m1", "first"), ent("alice", "m2", "second")]
    )
    await graph_store.upsert_entities(room_a, [ent("ALICE", "m1", "first, revised")])
    await graph_store.upsert_entities(room_a, [ent("ALICE", "m1", "first, revised")])
    alice = await graph_store.entity(room_a, "Alice")
    assert alice is not None
    assert alice.name == "Alice"
    assert set(alice.descriptions) == {
        SourcedText("m1", "first, revised"),
        SourcedText("m2", "second"),
    }
    assert set(alice.aliases) == {"alice", "ALICE"}
    assert (await graph_store.stats(room_a)).entities == 1


async def test_relation_evidence_is_per_source_and_weight_is_its_sum(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    again = RelationUpsert("alice", "PostgreSQL", "USES", "m1", "restated", 3.0)
    other = RelationUpsert("Alice", "postgresql", "USES", "m3", "also", 1.0)
    await graph_store.upsert_relations(room_a, [again, other])
    await graph_store.upsert_relations(room_a, [again])
    graph = await graph_store.neighbourhood(room_a, ["Alice"])
    uses = [r for r in graph.relations if r.relation == "USES" and r.target == "postgresql"]
    assert len(uses) == 1
    assert uses[0].weight == pytest.approx(4.0)
    assert {(e.source_id, e.text) for e in uses[0].evidence} == {("m1", "restated"), ("m3", "also")}
    assert (await graph_store.stats(room_a)).relations == 3


async def test_relations_need_existing_distinct_endpoints(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    with pytest.raises(UnknownEntity):
        await graph_store.upsert_relations(
            room_a, [RelationUpsert("Alice", "Carol", "KNOWS", "m9")]
        )
    with pytest.raises(InvalidRecord):
        await graph_store.upsert_relations(
            room_a, [RelationUpsert("Postgres", "postgresql", "IS", "m9")]
        )
    with pytest.raises(InvalidRecord):
        await graph_store.upsert_entities(room_a, [ent("   ", "m9")])


async def test_text_with_quotes_and_cypher_is_stored_as_data(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await graph_store.upsert_entities(room_a, [ent(NASTY, "m'1", NASTY), ent("Alice", "m1")])
    await graph_store.upsert_relations(
        room_a, [RelationUpsert(NASTY, "Alice", NASTY, "m'1", NASTY)]
    )
    found = await graph_store.entity(room_a, NASTY)
    assert found is not None
    assert found.name == NASTY
    assert found.descriptions == (SourcedText("m'1", NASTY),)
    graph = await graph_store.neighbourhood(room_a, ["Alice"])
    assert [(r.relation, r.evidence[0].text) for r in graph.relations] == [(NASTY, NASTY)]


async def test_neighbourhood_expands_by_hops_strongest_first_within_caps(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    one = await graph_store.neighbourhood(room_a, ["Alice"])
    assert {e.key for e in one.entities} == {"alice", "postgresql", "bob"}
    assert [r.relation for r in one.relations] == ["USES", "KNOWS"]
    two = await graph_store.neighbourhood(room_a, ["alice"], hops=2)
    assert {e.key for e in two.entities} == {"alice", "postgresql", "bob", "redis"}
    assert len(two.relations) == 3
    capped = await graph_store.neighbourhood(room_a, ["Alice"], hops=2, max_entities=2)
    assert [e.key for e in capped.entities] == ["alice", "postgresql"]
    assert [(r.source, r.target) for r in capped.relations] == [("alice", "postgresql")]
    few = await graph_store.neighbourhood(room_a, ["Alice"], max_relations=1)
    assert len(few.relations) == 1
    assert (await graph_store.neighbourhood(room_a, ["nobody"])).entities == ()
    with pytest.raises(InvalidRequest):
        await graph_store.neighbourhood(room_a, ["Alice"], hops=0)


async def test_an_isolated_entity_is_its_own_neighbourhood(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await graph_store.upsert_entities(room_a, [ent("Loner", "m1")])
    graph = await graph_store.neighbourhood(room_a, ["loner"])
    assert [e.key for e in graph.entities] == ["loner"]
    assert graph.relations == ()


async def test_pages_cover_every_entity_and_relation_exactly_once(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    seen_entities: list[str] = []
    seen_relations: list[tuple[str, str, str]] = []
    offset: int | None = 0
    while offset is not None:
        page = await graph_store.page(room_a, offset=offset, limit=3)
        assert page.total_entities == 4
        seen_entities += [e.key for e in page.entities]
        seen_relations += [r.ident for r in page.relations]
        offset = page.next_offset
    assert seen_entities == ["alice", "bob", "postgresql", "redis"]
    assert sorted(seen_relations) == [
        ("alice", "bob", "KNOWS"), ("alice", "postgresql", "USES"), ("bob", "redis", "USES")
    ]  # fmt: skip
    with pytest.raises(InvalidRequest):
        await graph_store.page(room_a, limit=0)


async def test_chunks_round_trip_and_are_found_by_mentioned_entity(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    c1, c2 = await graph_store.chunks(room_a, ["c1", "c2", "missing"])
    assert (c1.text, c1.message_ids, c1.mentions) == (
        "Alice: I use Postgres",
        ("m1",),
        ("alice", "postgresql"),
    )
    assert c2.artifact_ids == ("art-1",)
    assert [
        c.id for c in await graph_store.chunks_mentioning(room_a, ["postgres", "Bob"], limit=10)
    ] == ["c1", "c2"]
    assert [
        c.id for c in await graph_store.chunks_mentioning(room_a, ["redis", "alice"], limit=1)
    ] == ["c1"]
    await graph_store.upsert_chunks(room_a, [Chunk("c1", "replaced", ("m1",), (), (), 0)])
    assert (await graph_store.chunks(room_a, ["c1"]))[0].text == "replaced"
    assert (await graph_store.stats(room_a)).chunks == 2


CACHE_REPORT = CommunityReport("Cache", "Redis", (), 1.0, ("m2",))
REPORT = CommunityReport(
    "Databases",
    "They talk databases",
    (Finding("Postgres wins", "m1 says", ("m1",), ("a1",)),),
    7.5,
    ("m1", "a1"),
    "fp-1",
)


async def test_communities_are_replaced_whole_and_read_by_level(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    top = Community("c-top", 1, ("alice", "bob", "postgresql", "redis"))
    db = Community("c-db", 0, ("alice", "postgresql"), "c-top", REPORT)
    cache = Community("c-cache", 0, ("bob", "redis"), "c-top")
    await graph_store.replace_communities(room_a, [top, db, cache])
    assert await graph_store.communities(room_a) == [cache, db, top]
    assert await graph_store.communities(room_a, level=1) == [top]
    await graph_store.replace_communities(room_a, [db])
    assert await graph_store.communities(room_a) == [db]
    with pytest.raises(InvalidRecord):
        await graph_store.replace_communities(room_a, [db, db])


async def test_merging_folds_descriptions_aliases_relations_and_mentions(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    await graph_store.upsert_entities(room_a, [ent("Postgres DB", "m5", "the database")])
    await graph_store.upsert_relations(
        room_a, [RelationUpsert("Alice", "Postgres DB", "USES", "m5", "again", 1.0)]
    )
    await graph_store.upsert_chunks(
        room_a, [Chunk("c5", "Postgres DB it is", ("m5",), (), ("Postgres DB",), 5)]
    )
    record = await graph_store.merge_entities(
        room_a, EntityMerge("postgres db", "PostgreSQL", "same thing")
    )
    assert (record.merged_key, record.merged_name, record.into_key) == (
        "postgres db",
        "Postgres DB",
        "postgresql",
    )
    assert await graph_store.entity(room_a, "Postgres DB") == await graph_store.entity(
        room_a, "postgresql"
    )
    merged = await graph_store.entity(room_a, "PostgreSQL")
    assert merged is not None
    assert {"m1", "m5"} <= set(merged.source_ids)
    uses = [
        r
        for r in (await graph_store.neighbourhood(room_a, ["Alice"])).relations
        if r.relation == "USES"
    ]
    assert [r.target for r in uses] == ["postgresql"]
    assert uses[0].weight == pytest.approx(3.0)
    assert (await graph_store.chunks(room_a, ["c5"]))[0].mentions == ("postgresql",)
    assert (await graph_store.stats(room_a)).entities == 4
    assert [m.reason for m in await graph_store.merge_log(room_a)] == ["same thing"]
    with pytest.raises(InvalidRecord):
        await graph_store.merge_entities(room_a, EntityMerge("Postgres", "PostgreSQL", "alias"))


async def test_forgetting_a_source_removes_everything_derived_from_it(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    await graph_store.upsert_entities(room_a, [ent("Alice", "m2", "Alice knows Bob")])
    await graph_store.replace_communities(room_a, [
        Community("c-db", 0, ("alice", "postgresql"), None, REPORT),
        Community("c-cache", 0, ("bob", "redis"), None, CACHE_REPORT),
    ])  # fmt: skip
    report = await graph_store.forget_sources(room_a, ["m1"])
    assert report.removed_entities == ("postgresql",)
    assert report.changed_entities == ("alice",)
    assert report.removed_relations == 1
    assert report.removed_chunks == 1
    assert report.invalidated_communities == ("c-db",)
    alice = await graph_store.entity(room_a, "Alice")
    assert alice is not None
    assert alice.source_ids == ("m2",)
    assert await graph_store.entity(room_a, "Postgres") is None
    assert await graph_store.chunks(room_a, ["c1"]) == []
    reports = {c.id: c.report for c in await graph_store.communities(room_a)}
    assert reports["c-db"] is None
    assert reports["c-cache"] == CACHE_REPORT
    stats = await graph_store.stats(room_a)
    assert (stats.entities, stats.relations, stats.chunks) == (3, 2, 1)
    # Forgetting the same source again changes nothing.
    assert (await graph_store.forget_sources(room_a, ["m1"])).removed_chunks == 0


async def test_an_entity_related_by_other_sources_survives_losing_its_description(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await graph_store.upsert_entities(room_a, [ent("Alice", "m1"), ent("Bob", "m2")])
    await graph_store.upsert_relations(room_a, [RelationUpsert("Alice", "Bob", "KNOWS", "m2")])
    report = await graph_store.forget_sources(room_a, ["m1"])
    assert report.removed_entities == ()
    alice = await graph_store.entity(room_a, "alice")
    assert alice is not None
    assert alice.descriptions == ()


async def test_purge_empties_only_that_room(
    graph_store: GraphStore, room_a: Scope, room_b: Scope
) -> None:
    await graph_store.ping()
    await seed(graph_store, room_a)
    await seed(graph_store, room_b)
    await graph_store.purge(room_a)
    assert (await graph_store.stats(room_a)).entities == 0
    assert (await graph_store.stats(room_b)).entities == 4
    await graph_store.purge(room_a)  # purging an empty room is fine
    await graph_store.purge(room_b)


async def test_purge_drops_every_record_of_the_room_which_can_then_start_afresh(
    graph_store: GraphStore, room_a: Scope, room_b: Scope
) -> None:
    # What a deleted room leaves behind must not resurface: entities, relations, chunks,
    # communities with their reports and the merge log all go; the next room keeps its own.
    for scope in (room_a, room_b):
        await seed(graph_store, scope)
        await graph_store.replace_communities(
            scope, [Community("c-db", 0, ("alice",), None, REPORT)]
        )
        await graph_store.merge_entities(scope, EntityMerge("Redis", "PostgreSQL", "test"))
    await graph_store.purge(room_a)
    assert await graph_store.entity(room_a, "Postgres") is None
    assert await graph_store.relations(room_a, ["alice", "bob", "postgresql"]) == []
    assert await graph_store.chunks(room_a, ["c1", "c2"]) == []
    assert (await graph_store.communities(room_a), await graph_store.merge_log(room_a)) == ([], [])
    kept = await graph_store.stats(room_b)
    assert (kept.entities, kept.relations, kept.chunks, kept.communities) == (3, 3, 2, 1)
    assert [c.report for c in await graph_store.communities(room_b)] == [REPORT]
    await graph_store.upsert_entities(room_a, [ent("Alice", "m9")])
    alice = await graph_store.entity(room_a, "alice")
    assert alice is not None
    assert (alice.source_ids, alice.aliases) == (("m9",), ())
    await graph_store.purge(room_a)
    await graph_store.purge(room_b)


async def test_no_read_returns_another_rooms_data(
    graph_store: GraphStore, room_a: Scope, room_b: Scope
) -> None:
    await seed(graph_store, room_a)
    await graph_store.replace_communities(room_a, [Community("c-db", 0, ("alice",), None, REPORT)])
    await graph_store.merge_entities(room_a, EntityMerge("Redis", "PostgreSQL", "test"))
    # Same room id under another course is another partition too.
    for other in (room_b, Scope(room_a.room_id, course_id="course-2"), Scope(room_a.room_id)):
        assert await graph_store.entity(other, "Alice") is None
        assert await graph_store.entities(other, ["Alice", "Postgres", "Bob"]) == []
        assert (await graph_store.neighbourhood(other, ["Alice"], hops=3)).entities == ()
        page = await graph_store.page(other)
        assert (page.entities, page.relations, page.total_entities) == ((), (), 0)
        assert await graph_store.chunks(other, ["c1", "c2"]) == []
        assert await graph_store.chunks_mentioning(other, ["Alice"], limit=10) == []
        assert await graph_store.communities(other) == []
        assert await graph_store.merge_log(other) == []
        stats = await graph_store.stats(other)
        assert (stats.entities, stats.relations, stats.chunks, stats.communities) == (0, 0, 0, 0)
        # Writes and deletions elsewhere never reach room A either.
        assert (await graph_store.forget_sources(other, ["m1", "m2"])).removed_chunks == 0
        with pytest.raises(UnknownEntity):
            await graph_store.upsert_relations(
                other, [RelationUpsert("Alice", "Bob", "KNOWS", "m2")]
            )
        await graph_store.purge(other)
    assert (await graph_store.stats(room_a)).entities == 3
    await graph_store.purge(room_a)
