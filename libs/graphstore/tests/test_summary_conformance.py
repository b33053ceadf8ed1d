"""The GraphStore contract for summaries and relation reads, run against every adapter."""

from __future__ import annotations

from coagent_graphstore.models import (
    EntityMerge,
    EntityUpsert,
    RelationUpsert,
    Scope,
    Summary,
)
from coagent_graphstore.ports import GraphStore

USES = ("alice", "postgresql", "USES")
KNOWS = ("alice", "bob", "KNOWS")


async def seed(store: GraphStore, scope: Scope) -> None:
    await store.upsert_entities(scope, [
        EntityUpsert("Alice", "PERSON", "m1", "Alice uses Postgres"),
        EntityUpsert("Alice", "PERSON", "m2", "Alice knows Bob"),
        EntityUpsert("PostgreSQL", "TECHNOLOGY", "m1", "A database"),
        EntityUpsert("Bob", "PERSON", "m2", "Bob is a student"),
    ])  # fmt: skip
    await store.upsert_relations(scope, [
        RelationUpsert("Alice", "PostgreSQL", "USES", "m1", "Alice uses Postgres"),
        RelationUpsert("Alice", "PostgreSQL", "USES", "m3", "Alice runs Postgres"),
        RelationUpsert("Alice", "Bob", "KNOWS", "m2", "Alice knows Bob"),
    ])  # fmt: skip


async def test_summaries_round_trip_and_survive_upserts(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    await graph_store.set_summaries(
        room_a,
        {"alice": Summary("Alice, a student 'who' uses \"Postgres\"", "fp-1"),
         "nobody": Summary("ignored", "fp-0")},
        {USES: Summary("Alice uses and runs Postgres", "fp-2")},
    )  # fmt: skip
    await graph_store.upsert_entities(room_a, [EntityUpsert("alice", "PERSON", "m4", "more")])
    await graph_store.upsert_relations(
        room_a, [RelationUpsert("alice", "postgresql", "USES", "m4", "again")]
    )
    alice = await graph_store.entity(room_a, "Alice")
    assert alice is not None
    assert alice.summary == Summary("Alice, a student 'who' uses \"Postgres\"", "fp-1")
    assert len(alice.descriptions) == 3
    bob = await graph_store.entity(room_a, "Bob")
    assert bob is not None
    assert bob.summary is None
    relations = {r.ident: r for r in await graph_store.relations(room_a, ["postgresql"])}
    assert list(relations) == [USES]
    assert relations[USES].summary == Summary("Alice uses and runs Postgres", "fp-2")
    assert await graph_store.entity(room_a, "nobody") is None


async def test_relations_of_entities_are_every_relation_touching_them(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    found = await graph_store.relations(room_a, ["alice", "bob", "alice"])
    assert [r.ident for r in found] == [KNOWS, USES]
    assert await graph_store.relations(room_a, []) == []
    assert await graph_store.relations(room_a, ["nobody"]) == []


async def test_forgetting_a_fragment_clears_the_summary_made_from_it(
    graph_store: GraphStore, room_a: Scope
) -> None:
    await seed(graph_store, room_a)
    await graph_store.set_summaries(
        room_a,
        {"alice": Summary("uses Postgres, knows Bob", "a"), "bob": Summary("a student", "b")},
        {USES: Summary("uses", "u"), KNOWS: Summary("knows", "k")},
    )
    report = await graph_store.forget_sources(room_a, ["m1"])
    # PostgreSQL lost its only description but is still related through m3.
    assert report.changed_entities == ("alice", "postgresql")
    assert report.changed_relations == (USES,)
    alice, bob = await graph_store.entities(room_a, ["alice", "bob"])
    assert alice.summary is None  # it repeated what m1 said
    assert bob.summary == Summary("a student", "b")
    relations = {r.ident: r for r in await graph_store.relations(room_a, ["alice"])}
    assert relations[USES].summary is None
    assert relations[KNOWS].summary == Summary("knows", "k")


async def test_a_merge_keeps_the_survivors_summary(graph_store: GraphStore, room_a: Scope) -> None:
    await seed(graph_store, room_a)
    await graph_store.upsert_entities(room_a, [EntityUpsert("Postgres", "TECHNOLOGY", "m5", "PG")])
    await graph_store.set_summaries(room_a, {"postgresql": Summary("A database", "p")})
    await graph_store.merge_entities(room_a, EntityMerge("Postgres", "PostgreSQL", "test"))
    merged = await graph_store.entity(room_a, "postgres")
    assert merged is not None
    assert merged.summary == Summary("A database", "p")
    assert set(merged.source_ids) == {"m1", "m5"}


async def test_summaries_and_relations_stay_in_their_room(
    graph_store: GraphStore, room_a: Scope, room_b: Scope
) -> None:
    await seed(graph_store, room_a)
    await seed(graph_store, room_b)
    await graph_store.set_summaries(
        room_b, {"alice": Summary("room b", "b")}, {USES: Summary("b", "b")}
    )
    alice = await graph_store.entity(room_a, "alice")
    assert alice is not None
    assert alice.summary is None
    assert all(r.summary is None for r in await graph_store.relations(room_a, ["alice"]))
    other = Scope(room_a.room_id, course_id="course-2")
    assert await graph_store.relations(other, ["alice"]) == []
    await graph_store.set_summaries(other, {"alice": Summary("elsewhere", "x")})
    again = await graph_store.entity(room_a, "alice")
    assert again is not None
    assert again.summary is None
