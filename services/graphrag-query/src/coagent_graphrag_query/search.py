"""Question answering over one room's graph: choose a search mode, retrieve, compose, ground."""

from __future__ import annotations

import re
from typing import Literal

from coagent_graphrag_query.answers import Answer, SearchMode, ground
from coagent_graphrag_query.ports import ChatModel
from coagent_graphrag_query.retrieval import Retrieved, Retriever
from coagent_graphstore.models import Scope
from coagent_kit.errors import ServiceError

RequestedMode = Literal["auto", "basic", "local", "global"]

# Questions about the room as a whole (themes, overviews) rather than about one fact.
_THEMATIC = re.compile(
    r"\b(overall|overview|main (topics|themes|points|ideas)|themes?|summari[sz]e|summary|"
    r"in general|big picture|what (is|was) (this|the) (room|discussion|conversation) about)\b",
    re.IGNORECASE,
)


class GlobalSearchUnavailable(ServiceError):
    """Global search answers from community reports, and the room has none: a state of the room
    (409, like any request its current state cannot serve), not a server failure."""

    status, code = 409, "communities_not_built"


def route(question: str, *, linked_entities: bool, global_available: bool) -> SearchMode:
    """The mode for ``auto``: thematic → global (when available), named → local, else basic.

    Factoid questions go to plain chunk retrieval, where graph context tends to hurt; questions
    naming entities of the room go to entity-linked expansion.
    """
    if global_available and _THEMATIC.search(question):
        return "global"
    return "local" if linked_entities else "basic"


class SearchService:
    def __init__(self, retriever: Retriever, model: ChatModel) -> None:
        self._retriever, self._model = retriever, model

    async def ask(self, scope: Scope, question: str, mode: RequestedMode = "auto") -> Answer:
        chosen = mode if mode != "auto" else await self._route(scope, question)
        if chosen == "global":
            raise GlobalSearchUnavailable(
                "Global search answers from community reports and this room has none yet; "
                "ask with mode 'local', 'basic' or 'auto'"
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

    async def _route(self, scope: Scope, question: str) -> SearchMode:
        # Only names and aliases the question spells out count as naming an entity: vector
        # similarity to some entity is too weak a sign that the graph helps.
        named = await self._retriever.link_entities(scope, question, by_vector=False)
        # Global search over community reports does not exist yet, so auto never picks it.
        return route(question, linked_entities=bool(named), global_available=False)
