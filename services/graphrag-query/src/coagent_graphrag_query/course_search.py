"""Questions over a course: the same search run in each of its rooms' partitions, merged.

A course is a set of room partitions; nothing is stored per course. The caller (the gateway)
names the rooms the asking user may read, and each room is searched on its own, exactly as a
room question would be (basic or local over its chunks, global over its community reports when
it has some, else it is skipped). The passages found are merged by score, renumbered, and one
grounded answer is composed from the best of them; every passage remembers its room, so each
citation says which room it comes from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from coagent_graphrag_query.answers import Answer, Claim, Passage, SearchMode, ground
from coagent_graphrag_query.global_search import GlobalSearch, GlobalSearchUnavailable
from coagent_graphrag_query.ports import ChatModel
from coagent_graphrag_query.retrieval import Retriever
from coagent_graphrag_query.search import RequestedMode, route, thematic
from coagent_graphstore.models import Scope

#: Rooms searched at once: enough to hide store latency, few enough not to swamp the stores.
PARALLEL_ROOMS = 8


@dataclass(frozen=True, slots=True)
class RoomPassage:
    room_id: str
    passage: Passage


@dataclass(frozen=True, slots=True)
class CourseAnswer:
    """One answer over several rooms; ``room_of`` maps each passage number to its room."""

    answer: Answer
    rooms: tuple[str, ...]
    room_of: Mapping[int, str] = field(default_factory=dict)


def merge(found: Sequence[RoomPassage], limit: int) -> list[RoomPassage]:
    """The ``limit`` best passages of all rooms, renumbered from 1 in score order.

    Ties keep the order the rooms were given in, so the same question gives the same answer.
    """
    ranked = sorted(enumerate(found), key=lambda item: (-item[1].passage.score, item[0]))
    return [
        RoomPassage(rp.room_id, _renumbered(rp.passage, number))
        for number, (_, rp) in enumerate(ranked[:limit], start=1)
    ]


class CourseSearch:
    def __init__(
        self, retriever: Retriever, model: ChatModel, global_search: GlobalSearch | None = None
    ) -> None:
        self._retriever, self._model = retriever, model
        self._global = global_search
        self._slots = asyncio.Semaphore(PARALLEL_ROOMS)

    async def ask(
        self,
        rooms: Sequence[str],
        question: str,
        mode: RequestedMode = "auto",
        *,
        level: int | None = None,
    ) -> CourseAnswer:
        """Answer from the given rooms only; no room → an empty answer, not an error."""
        scopes = [Scope(room) for room in dict.fromkeys(rooms)]
        searched = tuple(s.room_id for s in scopes)
        chosen: SearchMode = "basic" if mode == "auto" else mode
        if mode == "auto" and scopes:
            chosen = await self._route(scopes, question)
        if chosen == "global" and self._global is None:
            raise GlobalSearchUnavailable("Global search is not configured here")
        per_room = await asyncio.gather(
            *(self._in_room(s, question, chosen, level) for s in scopes)
        )
        passages = [rp for room in per_room for rp in room[0]]
        entities = tuple(dict.fromkeys(e for room in per_room for e in room[1]))
        limit = self._global.limits.reduce_passages if chosen == "global" and self._global else (
            self._retriever.limits.passages
        )  # fmt: skip
        best = merge(passages, limit)
        if not best:
            return CourseAnswer(Answer(chosen, "", (), (), entities), searched)
        answer = await self._compose(chosen, question, [rp.passage for rp in best])
        grounded = Answer(answer.mode, answer.text, answer.claims, answer.cited, entities)
        return CourseAnswer(grounded, searched, {rp.passage.number: rp.room_id for rp in best})

    async def _route(self, scopes: Sequence[Scope], question: str) -> SearchMode:
        """``auto`` for the whole course, so every room is searched the same way."""
        named = False
        for scope in scopes:
            if await self._retriever.link_entities(scope, question, by_vector=False):
                named = True
                break
        available = False
        if self._global is not None and thematic(question):
            for scope in scopes:
                if await self._global.available(scope):
                    available = True
                    break
        return route(question, linked_entities=named, global_available=available)

    async def _in_room(
        self, scope: Scope, question: str, mode: SearchMode, level: int | None
    ) -> tuple[list[RoomPassage], tuple[str, ...]]:
        async with self._slots:
            if mode == "global":
                return await self._global_in_room(scope, question, level), ()
            if mode == "local":
                found = await self._retriever.local(scope, question)
            else:
                found = await self._retriever.basic(scope, question)
        return [RoomPassage(scope.room_id, p) for p in found.passages], found.entities

    async def _global_in_room(
        self, scope: Scope, question: str, level: int | None
    ) -> list[RoomPassage]:
        """The findings a room's own global answer cites; nothing if it has no reports yet."""
        assert self._global is not None  # checked before any room is searched
        if not await self._global.available(scope):
            return []
        try:
            answer = await self._global.answer(
                scope, question, level=level, thematic=thematic(question)
            )
        except GlobalSearchUnavailable:  # its communities went between the two calls
            return []
        return [RoomPassage(scope.room_id, p) for p in answer.cited]

    async def _compose(self, mode: SearchMode, question: str, passages: list[Passage]) -> Answer:
        draft = await self._model.answer(question, passages)
        answer = ground(mode, draft, passages)
        if answer.claims or mode != "global":
            return answer
        # Each finding was grounded by its room's own map-reduce: state it, cited, as global
        # search does when the reduce step keeps no claim.
        claims = tuple(Claim(p.text, (p.number,)) for p in passages)
        text = " ".join(f"{c.text} [{c.passages[0]}]" for c in claims)
        return Answer("global", text, claims, tuple(passages))


def _renumbered(p: Passage, number: int) -> Passage:
    return Passage(number, p.chunk_id, p.text, p.score, p.message_ids, p.artifact_ids)
