"""Grounding an answer while the composer writes it.

The composer's text arrives in pieces cut anywhere (mid-word, mid-marker). Pieces are buffered
until a sentence is certainly complete (its end is followed by the start of the next one, or the
draft ended), and each complete sentence is grounded on its own by the rules of
:func:`~coagent_graphrag_query.answers.ground`: a kept claim goes out at once, an unsupported
one never leaves. The answer assembled at the end is the one ``ground`` gives for the whole
draft, so a streamed answer and a plain one never disagree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from coagent_graphrag_query.answers import (
    SENTENCE_END,
    Answer,
    Claim,
    Passage,
    SearchMode,
    assemble,
    claim_text,
    ground_claim,
    split_claims,
)


@dataclass(frozen=True, slots=True)
class Delta:
    """A kept claim as it goes out.

    ``text`` is what to append to the answer so far: the deltas of an answer, concatenated, are
    its final text.
    """

    text: str
    claim: Claim
    cited: tuple[Passage, ...]


class StreamGrounder:
    """Buffers text pieces to sentence boundaries and grounds each completed sentence."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self._by_number = {p.number: p for p in passages}
        self._buffer = ""
        self.kept: list[Claim] = []

    def feed(self, piece: str) -> list[Delta]:
        """The claims kept among the sentences ``piece`` completes."""
        # A draft's leading blanks belong to no sentence (``ground`` strips the draft too).
        self._buffer = (self._buffer + piece).lstrip()
        deltas: list[Delta] = []
        start = 0
        for match in SENTENCE_END.finditer(self._buffer):
            if match.end() == len(self._buffer):
                # More blanks, or a marker that still belongs to this sentence, may follow.
                break
            deltas += self._close(self._buffer[start : match.start()])
            start = match.end()
        self._buffer = self._buffer[start:]
        return deltas

    def finish(self) -> list[Delta]:
        """The claims kept in what remains once the draft has ended (end punctuation or not)."""
        rest, self._buffer = self._buffer, ""
        return self._close(rest)

    def answer(self, mode: SearchMode) -> Answer:
        """The answer made of every claim kept so far."""
        return assemble(mode, self.kept, self._by_number)

    def _close(self, text: str) -> list[Delta]:
        deltas: list[Delta] = []
        for sentence, numbers in split_claims(text):
            claim = ground_claim(sentence, numbers, self._by_number)
            if claim is None:
                continue
            separator = " " if self.kept else ""
            self.kept.append(claim)
            cited = tuple(self._by_number[n] for n in claim.passages)
            deltas.append(Delta(separator + claim_text(claim), claim, cited))
        return deltas


async def grounded_stream(
    mode: SearchMode,
    pieces: AsyncIterator[str],
    passages: Sequence[Passage],
    entities: tuple[str, ...] = (),
) -> AsyncIterator[Delta | Answer]:
    """Each kept claim as soon as its sentence is complete, then the whole answer."""
    grounder = StreamGrounder(passages)
    async for piece in pieces:
        for delta in grounder.feed(piece):
            yield delta
    for delta in grounder.finish():
        yield delta
    yield dataclasses.replace(grounder.answer(mode), entities=entities)


def replayed(answer: Answer) -> list[Delta]:
    """The deltas of an answer composed whole (global search grounds in several steps)."""
    by_number = {p.number: p for p in answer.cited}
    return [
        Delta(
            (" " if index else "") + claim_text(claim),
            claim,
            tuple(by_number[n] for n in claim.passages if n in by_number),
        )
        for index, claim in enumerate(answer.claims)
    ]
