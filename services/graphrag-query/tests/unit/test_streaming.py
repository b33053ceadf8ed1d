"""Grounding a draft that arrives in pieces, and the offline composer's stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from coagent_graphrag_query.adapters.extractive import ExtractiveChatModel
from coagent_graphrag_query.answers import Answer, Passage, ground
from coagent_graphrag_query.streaming import Delta, StreamGrounder, grounded_stream

DB = Passage(1, "c1", "We decided the database will be PostgreSQL. Lunch is at noon.", 0.9, ("m1",))
DEMO = Passage(2, "c2", "The demo is on Friday in room 204.", 0.5, ("m2", "m3"))
PASSAGES = (DB, DEMO)


def fed(pieces: list[str]) -> tuple[list[list[str]], Answer]:
    """The claim texts each piece released (finish last), and the final answer."""
    grounder = StreamGrounder(PASSAGES)
    released = [[d.text for d in grounder.feed(p)] for p in pieces]
    released.append([d.text for d in grounder.finish()])
    return released, grounder.answer("basic")


def test_a_sentence_split_across_pieces_goes_out_once_the_next_one_starts() -> None:
    released, answer = fed(
        ["The database will ", "be PostgreSQL [1]", ". ", "The demo", " is Friday [2]."]
    )
    # Not after ". ": a marker could still follow; the next sentence's first letter settles it.
    assert released == [
        [],
        [],
        [],
        ["The database will be PostgreSQL. [1]"],
        [],
        [" The demo is Friday. [2]"],
    ]
    assert answer.text == "The database will be PostgreSQL. [1] The demo is Friday. [2]"


def test_an_unsupported_sentence_is_dropped_mid_stream_and_the_rest_continues() -> None:
    pieces = [
        "The budget doubled last week [1]. ",
        "The demo is on Friday [2]. ",
        "Lunch is at noon [1].",
    ]
    released, answer = fed(pieces)
    assert released == [[], [], ["The demo is on Friday. [2]"], [" Lunch is at noon. [1]"]]
    assert "budget" not in answer.text
    assert [c.passages for c in answer.claims] == [(2,), (1,)]


def test_markers_split_across_pieces_are_read_whole() -> None:
    released, answer = fed(
        ["The demo is on Friday. [", "2][", "1] The database will be Postgre", "SQL [", "1]"]
    )
    assert released == [
        [],
        [],
        ["The demo is on Friday. [2]"],
        [],
        [],
        [" The database will be PostgreSQL [1]"],
    ]
    assert answer.claims[0].passages == (2,)  # the unsupporting [1] of the first claim is dropped


def test_a_trailing_sentence_without_end_punctuation_is_grounded_at_the_end() -> None:
    released, answer = fed(["  The demo is on Friday [2]", " "])
    assert released == [[], [], ["The demo is on Friday [2]"]]
    assert answer.text == "The demo is on Friday [2]"


def test_the_streamed_answer_is_the_one_ground_gives_for_the_whole_draft() -> None:
    draft = (
        "  The database will be PostgreSQL [1].  [2] Invented claim [9]. The demo is on Friday."
        " [2][1] Lunch is at noon [1] Unsupported tail about MongoDB [1]"
    )
    for size in (1, 2, 3, 7, len(draft)):
        grounder = StreamGrounder(PASSAGES)
        texts = [
            d.text for i in range(0, len(draft), size) for d in grounder.feed(draft[i : i + size])
        ]
        texts += [d.text for d in grounder.finish()]
        whole = ground("basic", draft, PASSAGES)
        assert grounder.answer("basic") == whole, size
        assert "".join(texts) == whole.text


async def _pieces(*texts: str) -> AsyncIterator[str]:
    for text in texts:
        yield text


async def test_the_stream_yields_deltas_with_their_passages_then_the_answer() -> None:
    items = [
        item
        async for item in grounded_stream(
            "local",
            _pieces("The demo is on Friday [2]. Lunch", " is at noon [1]."),
            PASSAGES,
            ("demo",),
        )
    ]
    deltas, answer = items[:-1], items[-1]
    assert all(isinstance(d, Delta) for d in deltas)
    assert [(d.text, d.cited) for d in deltas if isinstance(d, Delta)] == [
        ("The demo is on Friday. [2]", (DEMO,)),
        (" Lunch is at noon. [1]", (DB,)),
    ]
    assert isinstance(answer, Answer)
    assert answer.mode == "local"
    assert answer.entities == ("demo",)
    assert answer.cited == (DB, DEMO)


async def test_the_offline_composer_streams_its_draft_in_pieces() -> None:
    model = ExtractiveChatModel()
    question = "When is the demo and which database?"
    pieces = [p async for p in model.stream(question, PASSAGES)]
    assert len(pieces) > 3
    assert "".join(pieces) == await model.answer(question, PASSAGES)
