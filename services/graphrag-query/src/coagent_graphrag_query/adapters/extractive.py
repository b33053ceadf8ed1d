"""The offline ChatModel: an extractive composer that needs no key and no network.

It answers with the passages' own sentences that share the most content words with the
question, each cited by its passage number. Deterministic: same passages, same answer.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

from coagent_graphrag_query.answers import Passage
from coagent_graphstore.embedding import tokens

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# One word with the blanks after it: the pieces a streamed draft is sent in.
_PIECE = re.compile(r"\S+\s*")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


class ExtractiveChatModel:
    """Picks up to ``max_sentences`` question-relevant sentences from the passages."""

    def __init__(self, max_sentences: int = 3) -> None:
        self._max = max_sentences

    async def answer(self, question: str, passages: Sequence[Passage]) -> str:
        asked = set(tokens(question))
        scored: list[tuple[float, int, int, str]] = []
        for rank, passage in enumerate(passages):
            for index, sentence in enumerate(sentences(passage.text)):
                overlap = len(asked & set(tokens(sentence)))
                if overlap:
                    # More shared words first, then the better-ranked passage, then text order.
                    scored.append((-overlap, rank, index, f"{sentence} [{passage.number}]"))
        best = sorted(scored)[: self._max]
        # Keep the chosen sentences in conversation order (passage rank, then position).
        return " ".join(s for *_, s in sorted(best, key=lambda t: (t[1], t[2])))

    async def stream(self, question: str, passages: Sequence[Passage]) -> AsyncIterator[str]:
        """The same draft as :meth:`answer`, a word at a time, like a model writing it."""
        for piece in _PIECE.findall(await self.answer(question, passages)):
            yield piece
            await asyncio.sleep(0)  # let the consumer act on each piece as it comes
