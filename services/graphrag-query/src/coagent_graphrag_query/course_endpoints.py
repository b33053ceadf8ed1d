"""``POST /internal/v1/graph/query``: a question over the rooms of a course.

Only the gateway calls this: it serves ``POST /api/v1/courses/{course_id}/graph/query``, checks
the caller may read the course, and sends the rooms of it the caller may read. The room list
never comes from a client, so this route is internal (no public path reaches it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from coagent_graphrag_query.course_search import CourseAnswer, CourseSearch
from coagent_graphrag_query.graph_schemas import AnswerRead, CitationRead, QuestionIn
from coagent_kit.auth import Identity

#: Rooms one question may span (a course's rooms; more is refused with 422).
MAX_ROOMS = 500

router = APIRouter(prefix="/internal/v1/graph", tags=["graph"], include_in_schema=False)


class CourseQuestionIn(QuestionIn):
    rooms: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        max_length=MAX_ROOMS, description="The rooms to search (those the caller may read)"
    )


class CourseCitationRead(CitationRead):
    room_id: str = Field(description="The room the cited passage comes from")


class CourseAnswerRead(AnswerRead):
    citations: list[CourseCitationRead]  # type: ignore[assignment]
    rooms: list[str] = Field(description="The rooms searched")

    @classmethod
    def of_course(cls, found: CourseAnswer) -> CourseAnswerRead:
        base = AnswerRead.of(found.answer).model_dump()
        base["citations"] = [
            {**CitationRead.of(p).model_dump(), "room_id": found.room_of[p.number]}
            for p in found.answer.cited
        ]
        if not found.answer.claims:
            base["answer"] = NO_COURSE_ANSWER
        return cls(**base, rooms=list(found.rooms))


NO_COURSE_ANSWER = "Nothing in this course's rooms answers that question."


def _course_search(request: Request) -> CourseSearch:
    search: CourseSearch = request.app.state.course_search
    return search


@router.post("/query")
async def ask_course(
    body: CourseQuestionIn,
    identity: Identity,
    search: Annotated[CourseSearch, Depends(_course_search)],
) -> CourseAnswerRead:
    """Answer from the named rooms' conversations; each citation names its room."""
    found = await search.ask(body.rooms, body.question, body.mode, level=body.level)
    return CourseAnswerRead.of_course(found)
