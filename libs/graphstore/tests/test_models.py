"""Scopes, entity keys and the errors bad input gets."""

from __future__ import annotations

import pytest

from coagent_graphstore.adapters.memory import MemoryGraphStore
from coagent_graphstore.errors import InvalidRecord, InvalidRequest, InvalidScope
from coagent_graphstore.models import Scope, entity_key


def test_scope_keys_separate_courses() -> None:
    assert Scope("r1").key == "r1"
    assert Scope("r1", course_id="c1").key == "c1/r1"
    assert Scope("r1", course_id="c2").key != Scope("r1", course_id="c1").key


@pytest.mark.parametrize("room_id", ["", "a/b", "room 1", "x" * 129, "-lead", "r\n1", "r*"])
def test_unusable_ids_are_refused_with_a_stable_code(room_id: str) -> None:
    with pytest.raises(InvalidScope) as caught:
        Scope(room_id)
    assert (caught.value.status, caught.value.code) == (400, "invalid_scope")
    with pytest.raises(InvalidScope):
        Scope("room", course_id=room_id)


def test_entity_keys_ignore_case_width_and_spacing() -> None:
    assert entity_key("  Alice   CHEN ") == "alice chen"
    assert entity_key("ＰｏｓｔｇｒｅＳＱＬ") == "postgresql"
    assert entity_key("Straße") == entity_key("STRASSE")
    with pytest.raises(InvalidRecord) as caught:
        entity_key(" \t ")
    assert (caught.value.status, caught.value.code) == (422, "invalid_graph_record")


async def test_out_of_range_caps_are_bad_requests() -> None:
    store, scope = MemoryGraphStore(), Scope("r1")
    with pytest.raises(InvalidRequest) as caught:
        await store.page(scope, offset=-1)
    assert (caught.value.status, caught.value.code) == (400, "invalid_graph_request")
    with pytest.raises(InvalidRequest):
        await store.chunks_mentioning(scope, ["x"], limit=5000)
    with pytest.raises(InvalidRequest):
        await store.neighbourhood(scope, ["x"], max_entities=0)
