"""The rule steps of the resolution cascade: name → alias → fuzzy, within type, with reasons."""

from __future__ import annotations

from coagent_graphrag_ingest.resolution import (
    Candidate,
    Merge,
    choose_type,
    match,
    normal_form,
    plan_merges,
)


def c(
    name: str, type_: str = "CONCEPT", aliases: tuple[str, ...] = (), weight: int = 1
) -> Candidate:
    return Candidate(name.casefold(), name, type_, aliases, weight)


def test_normal_form_drops_case_punctuation_and_a_leading_article() -> None:
    assert normal_form("The  Leiden-Algorithm!") == "leiden algorithm"
    assert normal_form("C++") == "c++"
    assert normal_form("The") == "the"


def test_the_cascade_reports_which_step_matched() -> None:
    leiden = c("Leiden algorithm")
    pg = c("PostgreSQL", "TECHNOLOGY", aliases=("PG",))

    assert match(c("the Leiden-algorithm"), [leiden]) == (leiden, "name")
    assert match(c("pg", "TECHNOLOGY"), [pg]) == (pg, "alias")
    found = match(c("Postgres", "TECHNOLOGY"), [pg])
    assert found is not None
    assert found[0] == pg
    assert found[1].startswith("fuzzy:0.8")


def test_matching_stays_within_one_type() -> None:
    assert match(c("Apple", "ORGANIZATION"), [c("Apple", "CONCEPT")]) is None


def test_same_name_different_type_is_never_merged() -> None:
    room = [c("Apple", "ORGANIZATION", weight=3), c("apple", "CONCEPT"), c("The Apple", "PERSON")]

    assert plan_merges(room, room) == []


def test_the_fuzzy_step_can_be_switched_off_or_made_stricter() -> None:
    pg = c("PostgreSQL", "TECHNOLOGY")
    near = c("Postgres", "TECHNOLOGY")

    assert match(near, [pg]) is not None
    assert match(near, [pg], fuzzy=False) is None
    assert match(near, [pg], ratio=0.95) is None
    assert plan_merges([near], [pg, near], fuzzy=False) == []
    # The sure steps still run without it.
    assert match(c("the postgresql", "TECHNOLOGY"), [pg], fuzzy=False) == (pg, "name")


def test_leading_words_merge_only_when_unambiguous() -> None:
    alice = c("Alice", "PERSON")
    chen = c("Alice Chen", "PERSON")
    assert match(alice, [chen]) == (chen, "fuzzy:leading-words")
    assert match(alice, [chen, c("Alice Wong", "PERSON")]) is None
    assert match(c("Ann", "PERSON"), [c("Ann Lee", "PERSON")]) is None  # too short to guess


def test_plans_fold_new_entities_into_the_better_attested_one() -> None:
    room = [c("PostgreSQL", "TECHNOLOGY", weight=5), c("Postgres", "TECHNOLOGY", weight=1),
            c("Neo4j", "TECHNOLOGY", weight=2)]  # fmt: skip

    merges = plan_merges([room[1]], room)

    assert merges == [Merge("postgres", "postgresql", merges[0].reason)]
    assert plan_merges([room[2]], room) == []


def test_a_chain_of_duplicates_collapses_into_one_survivor() -> None:
    room = [c("Leiden", weight=1), c("Leiden Method", weight=3), c("the Leiden method", weight=1)]

    merges = plan_merges(room, room)

    assert {m.into for m in merges} == {"leiden method"}
    assert {m.merged for m in merges} == {"leiden", "the leiden method"}


def test_identity_types_stick_and_the_default_type_yields() -> None:
    assert choose_type("PERSON", "CONCEPT") == "PERSON"
    assert choose_type("PERSON", "TECHNOLOGY") == "PERSON"
    assert choose_type("CONCEPT", "TECHNOLOGY") == "TECHNOLOGY"
    assert choose_type("TECHNOLOGY", "CONCEPT") == "TECHNOLOGY"
    assert choose_type(None, "ISSUE") == "ISSUE"
