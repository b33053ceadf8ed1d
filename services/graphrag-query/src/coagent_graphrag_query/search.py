"""Question answering over one room's graph: choose a search mode, retrieve, compose, ground."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Literal

from coagent_graphrag_query.answers import Answer, SearchMode, ground
from coagent_graphrag_query.global_search import GlobalSearch, GlobalSearchUnavailable
from coagent_graphrag_query.ports import ChatModel
from coagent_graphrag_query.retrieval import Retrieved, Retriever
from coagent_graphrag_query.streaming import Delta, grounded_stream, replayed
from coagent_graphstore.models import Scope

__all__ = ["GlobalSearchUnavailable", "RequestedMode", "SearchService", "route"]

RequestedMode = Literal["auto", "basic", "local", "global"]

# Questions about the room as a whole (themes, overviews) rather than about one fact.
_THEMATIC = re.compile(
    r"\b(overall|overview|main (topics|themes|points|ideas)|themes?|summari[sz]e|summary|"
    r"in general|big picture|what (is|was) (this|the) (room|discussion|conversation) about)\b",
    re.IGNORECASE,
)


def route(question: str, *, linked_entities: bool, global_available: bool) -> SearchMode:
    """The mode for ``auto``: thematic → global (when available), named → local, else basic.

    Factoid questions go to plain chunk retrieval, where graph context tends to hurt; questions
    naming entities of the room go to entity-linked expansion.
    """
    if global_available and _THEMATIC.search(question):
        return "global"
    return "local" if linked_entities else "basic"


def thematic(question: str) -> bool:
    """Whether the question is about the room as a whole rather than one fact."""
    return _THEMATIC.search(question) is not None


class SearchService:
    def __init__(
        self, retriever: Retriever, model: ChatModel, global_search: GlobalSearch | None = None
    ) -> None:
        self._retriever, self._model = retriever, model
        self._global = global_search

    async def ask(
        self,
        scope: Scope,
        question: str,
        mode: RequestedMode = "auto",
        *,
        level: int | None = None,
    ) -> Answer:
        chosen = mode if mode != "auto" else await self._route(scope, question)
        if chosen == "global":
            if self._global is None:
                raise GlobalSearchUnavailable("Global search is not configured here")
            return await self._global.answer(
                scope, question, level=level, thematic=thematic(question)
            )
        found: Retrieved
        if chosen == "local":
            found = await self._retriever.local(scope, question)
        else:
            found = await self._retriever.basic(scope, question)
        if not found.passages:
            return Answer(chosen, "", (), (), found.entities)
        draft = await self._model.answer(question, found.passages)
        answer = ground(chosen, draft, found.passages)
        return Answer(answer.mode, answer.text, answer.claims, answer.cited, found.entities)

    async def stream(
        self,
        scope: Scope,
        question: str,
        mode: RequestedMode = "auto",
        *,
        level: int | None = None,
    ) -> AsyncGenerator[Delta | Answer, None]:
        """Like :meth:`ask`, each kept claim as soon as it is grounded, then the answer.

        Global answers are grounded in several map-reduce steps, so their claims go out together
        once the reduce step is done.
        """
        chosen = mode if mode != "auto" else await self._route(scope, question)
        if chosen == "global":
            answer = await self.ask(scope, question, "global", level=level)
            for delta in replayed(answer):
                yield delta
            yield answer
            return
        if chosen == "local":
            found = await self._retriever.local(scope, question)
        else:
            found = await self._retriever.basic(scope, question)
        if not found.passages:
            yield Answer(chosen, "", (), (), found.entities)
            return
        pieces = self._model.stream(question, found.passages)
        async for item in grounded_stream(chosen, pieces, found.passages, found.entities):
            yield item

    async def _route(self, scope: Scope, question: str) -> SearchMode:
        # Only names and aliases the question spells out count as naming an entity: vector
        # similarity to some entity is too weak a sign that the graph helps.
        named = await self._retriever.link_entities(scope, question, by_vector=False)
        available = (
            self._global is not None and thematic(question) and await self._global.available(scope)
        )
        return route(question, linked_entities=bool(named), global_available=available)
