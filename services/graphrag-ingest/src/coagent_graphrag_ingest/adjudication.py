"""The last step of entity resolution: deciding candidate pairs the rules could not settle.

Candidate pairs come from embedding neighbours of the same type. A decider answers many pairs
at once (one model call per batch), each with ``same``, ``different`` or ``unsure``; only
``same`` merges. ``OfflineAdjudicator`` is the keyless decider: conservative rules on names
and descriptions that say ``same`` only on positive evidence (an acronym spelling out the
other name, or a description calling one by the other's name) and ``unsure`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from coagent_graphrag_ingest.resolution import normal_form

Decision = Literal["same", "different", "unsure"]
T = TypeVar("T")
MAX_SIDE_DESCRIPTION = 300

ADJUDICATION_PROMPT = """You decide whether two entities extracted from one chat room are the \
same real-world thing. Each pair shows both entities' name, type, other names and what the \
conversation said about them.
Answer "same" only when the names clearly denote one thing (a spelling variant, an acronym, \
a nickname the text confirms); "different" when they clearly do not; "unsure" otherwise. \
Entities that are merely related (a tool and its feature, a person and their project) are \
"different". Give one short reason per pair and answer every pair by its number."""

# A description naming another spelling of the entity ("also called X", "short for X").
_ALIAS_CUES = (
    "also called",
    "also known as",
    "aka",
    "a.k.a.",
    "short for",
    "stands for",
    "abbreviated as",
    "abbreviation of",
    "abbreviation for",
    "acronym for",
    "acronym of",
    "known as",
)


@dataclass(frozen=True, slots=True)
class Side:
    """One entity of a pair, as a decider sees it."""

    key: str
    name: str
    type: str
    aliases: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class PairQuestion:
    """Are ``a`` and ``b`` one entity? ``similarity`` is their entity vectors' cosine."""

    a: Side
    b: Side
    similarity: float


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason: str


class Adjudicator(Protocol):
    """Decides a batch of pairs in one go (one model call for a model)."""

    async def decide(self, pairs: Sequence[PairQuestion]) -> list[Verdict]:
        """One verdict per pair, in order; a pair it cannot answer is ``unsure``."""
        ...


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive batches of at most ``size``."""
    if size < 1:
        raise ValueError(f"batch size must be positive, got {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def pair_prompt(pairs: Sequence[PairQuestion]) -> str:
    """The user message listing the numbered pairs a model must answer."""
    lines = [f"{i}. {_side(p.a)}\n   vs {_side(p.b)}" for i, p in enumerate(pairs)]
    return "Decide each pair:\n\n" + "\n".join(lines)


def _side(side: Side) -> str:
    aliases = f" (also {', '.join(side.aliases)})" if side.aliases else ""
    about = side.description[:MAX_SIDE_DESCRIPTION] or "nothing"
    return f"{side.name}{aliases} [{side.type}]: {about}"


# ------------------------------------------------------------------- offline rules
def offline_verdict(pair: PairQuestion) -> Verdict:
    """Conservative rules: ``same`` only on positive evidence; never guesses from similarity."""
    for first, second in ((pair.a, pair.b), (pair.b, pair.a)):
        if _is_acronym(first, second):
            return Verdict("same", f"acronym: {first.name!r} spells out {second.name!r}")
        if _described_as(first, second):
            return Verdict("same", f"description of {first.name!r} names {second.name!r}")
    words_a, words_b = set(_words(pair.a)), set(_words(pair.b))
    if not words_a & words_b:
        return Verdict("different", "names share no word and neither abbreviates the other")
    return Verdict("unsure", "names overlap but nothing says they are one thing")


def _words(side: Side) -> list[str]:
    return normal_form(side.name).split()


def _is_acronym(short: Side, long: Side) -> bool:
    """``short`` is one word of 2+ letters equal to the initials of ``long``'s 2+ words."""
    acronym = _words(short)
    words = [w for w in _words(long) if w not in {"of", "and", "for", "the", "de"}]
    if len(acronym) != 1 or len(words) < 2 or not acronym[0].isalpha():
        return False
    return len(acronym[0]) >= 2 and acronym[0] == "".join(w[0] for w in words)


def _described_as(side: Side, other: Side) -> bool:
    """``side``'s description names ``other`` right after an alias cue."""
    text = " " + " ".join(normal_form(side.description).split()) + " "
    name = normal_form(other.name)
    if not name:
        return False
    return any(f" {normal_form(cue)} {name} " in text for cue in _ALIAS_CUES)


class OfflineAdjudicator:
    """The keyless ``Adjudicator``; counts its batches like a model would count calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def decide(self, pairs: Sequence[PairQuestion]) -> list[Verdict]:
        self.calls += 1
        return [offline_verdict(p) for p in pairs]


def side_description(descriptions: Sequence[str]) -> str:
    """The text a decider reads about an entity: its distinct fragments, shortened."""
    text = " ".join(dict.fromkeys(d.strip() for d in descriptions if d.strip()))
    return re.sub(r"\s+", " ", text)[:MAX_SIDE_DESCRIPTION]
