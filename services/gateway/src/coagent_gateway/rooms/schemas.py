"""HTTP shapes of the room routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from coagent_gateway.rooms.domain import AiMode, Room, RoomSettings


class RoomCreate(BaseModel):
    course_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    is_ai_active: bool = True
    ai_frequency: float = Field(default=0.5, ge=0.0, le=1.0)
    ai_mode: AiMode = "teacher_only"
    is_analytics_active: bool = False
    attached_workflow_id: str | None = Field(default=None, max_length=64)

    def settings(self) -> RoomSettings:
        return RoomSettings(**self.model_dump(exclude={"course_id"}))


class RoomUpdate(BaseModel):
    """Only the fields sent change; unknown fields (read-only ones echoed back) are ignored."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    is_ai_active: bool | None = None
    ai_frequency: float | None = Field(default=None, ge=0.0, le=1.0)
    ai_mode: AiMode | None = None
    is_analytics_active: bool | None = None
    attached_workflow_id: str | None = Field(default=None, max_length=64)

    def changes(self) -> dict[str, object]:
        """The fields sent; ``null`` clears only the optional ones."""
        sent = self.model_dump(exclude_unset=True)
        if sent.get("attached_workflow_id") == "":
            sent["attached_workflow_id"] = None  # the client's "no workflow" choice
        nullable = {"description", "attached_workflow_id"}
        return {k: v for k, v in sent.items() if v is not None or k in nullable}


class AssignmentRequest(BaseModel):
    """Who to assign: ``user_id`` wins over ``user_email``; one of them is required."""

    user_email: str | None = Field(default=None, min_length=1, max_length=320)
    user_id: str | None = Field(default=None, min_length=1, max_length=64)


class RoomRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    course_id: str
    description: str | None
    is_ai_active: bool
    ai_frequency: float
    ai_mode: str
    is_analytics_active: bool
    attached_workflow_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, room: Room) -> RoomRead:
        s = room.settings
        return cls(
            id=room.id,
            name=s.name,
            course_id=room.course_id,
            description=s.description,
            is_ai_active=s.is_ai_active,
            ai_frequency=s.ai_frequency,
            ai_mode=s.ai_mode,
            is_analytics_active=s.is_analytics_active,
            attached_workflow_id=s.attached_workflow_id,
            created_at=room.created_at,
        )
