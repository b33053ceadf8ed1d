"""Grounded answers: passages handed to the composer, the claims it makes and their citations.

A composer (the ``ChatModel`` port) writes an answer whose every sentence ends with citation
markers such as ``[2]`` naming the numbered passages it relies on. ``ground`` then keeps only
the claims a cited passage actually supports; everything else is dropped, so an answer never
states what the room's conversation does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from coagent_graphstore.embedding import tokens

SearchMode = Literal["basic", "local", "global"]

#: Share of a claim's content words that its cited passages must contain.
SUPPORT_THRESHOLD = 0.6

_MARKER = re.compile(r"\[(\d+)\]")
# A sentence ends at . ! or ? (optionally followed by its markers), or right after markers.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?!\[)|(?<=\])\s+")


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved text unit, numbered for citation (1-based, in rank order)."""

    number: int
    chunk_id: str
    text: str
    score: float
    message_ids: tuple[str, ...] = ()
    artifact_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Claim:
    """One sentence of the answer and the passages (by number) that support it."""

    text: str
    passages: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    mode: SearchMode
    text: str
    claims: tuple[Claim, ...]
    #: The passages some kept claim cites, in number order.
    cited: tuple[Passage, ...]
    #: Entities the question was linked to (local search), for explanation.
    entities: tuple[str, ...] = ()

    @property
    def message_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m for p in self.cited for m in p.message_ids))


def split_claims(draft: str) -> list[tuple[str, tuple[int, ...]]]:
    """The draft's sentences, each without its markers, with the passage numbers it cites."""
    claims: list[tuple[str, tuple[int, ...]]] = []
    for sentence in SENTENCE_END.split(draft.strip()):
        numbers = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(sentence)))
        text = " ".join(_MARKER.sub(" ", sentence).split())
        text = re.sub(r"\s+([.!?,;:])", r"\1", text)
        if text:
            claims.append((text, numbers))
    return claims


def supports(claim: str, passages: Sequence[Passage]) -> bool:
    """Whether the passages contain enough of the claim's content words to back it."""
    words = tokens(claim)
    if not words:
        return False
    available = {w for p in passages for w in tokens(p.text)}
    return sum(1 for w in words if w in available) / len(words) >= SUPPORT_THRESHOLD


def ground_claim(
    text: str, numbers: tuple[int, ...], by_number: Mapping[int, Passage]
) -> Claim | None:
    """The claim with the cited passages that support it, or None when none does."""
    valid = tuple(n for n in numbers if n in by_number and supports(text, [by_number[n]]))
    if not valid and numbers:
        # No single passage carries it, but together the cited ones might.
        cited = [by_number[n] for n in numbers if n in by_number]
        valid = tuple(p.number for p in cited) if cited and supports(text, cited) else ()
    return Claim(text, valid) if valid else None


def claim_text(claim: Claim) -> str:
    """The claim as the answer states it: its sentence, then its markers."""
    return f"{claim.text} {''.join(f'[{n}]' for n in claim.passages)}"


def assemble(mode: SearchMode, kept: Sequence[Claim], by_number: Mapping[int, Passage]) -> Answer:
    """The answer made of the kept claims, citing the passages they name."""
    used = sorted({n for c in kept for n in c.passages})
    answer = " ".join(claim_text(c) for c in kept)
    return Answer(mode, answer, tuple(kept), tuple(by_number[n] for n in used))


def ground(mode: SearchMode, draft: str, passages: Sequence[Passage]) -> Answer:
    """Keep the claims whose citations exist and support them; drop the rest."""
    by_number = {p.number: p for p in passages}
    kept = [
        claim
        for text, numbers in split_claims(draft)
        if (claim := ground_claim(text, numbers, by_number)) is not None
    ]
    return assemble(mode, kept, by_number)
