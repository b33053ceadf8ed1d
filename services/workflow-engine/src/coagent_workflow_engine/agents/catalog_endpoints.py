"""Agent types (/api/v1/agent-types) and room assignments (/api/v1/rooms/{room_id}/agents)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from coagent_kit.auth import Identity
from coagent_workflow_engine.agents.catalog import Assignment
from coagent_workflow_engine.agents.configs import ScheduleConfig, TriggerConfig
from coagent_workflow_engine.agents.endpoints import Api, caller_of
from coagent_workflow_engine.agents.schemas import AgentTypeCreate, AgentTypeRead

types_router = APIRouter(prefix="/api/v1/agent-types", tags=["agents"])
rooms_router = APIRouter(prefix="/api/v1/rooms/{room_id}/agents", tags=["agents"])
TypeName = Annotated[str, Path(max_length=64)]
RoomId = Annotated[str, Path(min_length=1, max_length=64)]


@types_router.get("")
async def list_types(
    identity: Identity,
    api: Api,
    category: Annotated[str | None, Query(max_length=64)] = None,
    include_system: bool = True,
) -> list[AgentTypeRead]:
    """System types first, then by display name."""
    return [AgentTypeRead.of(t) for t in await api.types.list(category, include_system)]


@types_router.post(
    "", status_code=status.HTTP_201_CREATED, responses={409: {"description": "agent_type_exists"}}
)
async def create_type(body: AgentTypeCreate, identity: Identity, api: Api) -> AgentTypeRead:
    """A custom agent type (admins)."""
    return AgentTypeRead.of(await api.types.create(caller_of(identity), body.fields()))


@types_router.get("/{type_name}", responses={404: {"description": "agent_type_not_found"}})
async def get_type(type_name: TypeName, identity: Identity, api: Api) -> AgentTypeRead:
    """One agent type."""
    return AgentTypeRead.of(await api.types.get(type_name))


@types_router.get("/{type_name}/schema", responses={404: {"description": "agent_type_not_found"}})
async def type_schema(type_name: TypeName, identity: Identity, api: Api) -> dict[str, Any]:
    """The defaults a new agent of this type starts from."""
    t = await api.types.get(type_name)
    return {
        "type_name": t.type_name,
        "category": t.category,
        "defaults": {
            "system_prompt": t.default_system_prompt,
            "model_provider": t.default_model_provider,
            "model": t.default_model,
            "settings": t.default_settings,
            "capabilities": list(t.default_capabilities),
        },
        "is_external": t.category == "external",
    }


@types_router.delete(
    "/{type_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={400: {"description": "system_type"}, 404: {"description": "agent_type_not_found"}},
)
async def delete_type(type_name: TypeName, identity: Identity, api: Api) -> Response:
    """Remove a custom type (admins; the seeded system types stay)."""
    await api.types.delete(caller_of(identity), type_name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class RoomAgentSettings(BaseModel):
    """How the agent behaves in this room (overrides of the agent's own trigger/schedule)."""

    model_config = ConfigDict(extra="forbid")

    ai_frequency: float = Field(default=0.5, ge=0, le=1)
    reply_mode: Literal["auto", "mention_only"] = "auto"
    trigger_config: TriggerConfig | None = None
    schedule_config: ScheduleConfig | None = None


class RoomAgentCreate(BaseModel):
    agent_id: uuid.UUID
    is_active: bool = True
    order: int | None = Field(default=None, ge=0, le=10_000)
    settings: RoomAgentSettings = Field(default_factory=RoomAgentSettings)


class RoomAgentUpdate(BaseModel):
    """Only the given fields change (the whole object read earlier may be sent back)."""

    model_config = ConfigDict(extra="ignore")

    is_active: bool | None = None
    order: int | None = Field(default=None, ge=0, le=10_000)
    settings: RoomAgentSettings | None = None


class RoomAgentAgent(BaseModel):
    id: str
    name: str
    type: str
    model_provider: str
    model: str | None
    is_active: bool
    is_system: bool
    is_template: bool


class RoomAgentRead(BaseModel):
    room_id: str
    agent_id: str
    is_active: bool
    order: int
    settings: dict[str, Any]
    agent: RoomAgentAgent
    created_at: datetime
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, assignment: Assignment) -> RoomAgentRead:
        ra, a = assignment.room_agent, assignment.agent
        return cls(
            room_id=ra.room_id,
            agent_id=ra.agent_id,
            is_active=ra.is_active,
            order=ra.position,
            settings=ra.settings,
            agent=RoomAgentAgent(
                id=a.id,
                name=a.name,
                type=a.type,
                model_provider=a.model_provider,
                model=a.model,
                is_active=a.is_active,
                is_system=a.is_system,
                is_template=a.is_template,
            ),
            created_at=ra.created_at,
            updated_at=ra.updated_at,
            updated_by=ra.updated_by,
        )


def _settings(settings: RoomAgentSettings) -> dict[str, Any]:
    return settings.model_dump(mode="json", exclude_none=True)


@rooms_router.get("")
async def room_agents(room_id: RoomId, identity: Identity, api: Api) -> list[RoomAgentRead]:
    """The agents of the room in display order (the gateway checked course membership)."""
    return [RoomAgentRead.of(a) for a in await api.rooms.of_room(room_id)]


@rooms_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "agent_already_assigned"},
        404: {"description": "agent_not_found"},
    },
)
async def assign_agent(
    room_id: RoomId, body: RoomAgentCreate, identity: Identity, api: Api
) -> RoomAgentRead:
    """Assign an agent the caller may use (their own, a template or a system agent)."""
    assignment = await api.rooms.assign(
        caller_of(identity),
        room_id,
        str(body.agent_id),
        _settings(body.settings),
        body.is_active,
        body.order,
    )
    return RoomAgentRead.of(assignment)


@rooms_router.put("/{agent_id}", responses={404: {"description": "room_agent_not_found"}})
async def update_room_agent(
    room_id: RoomId, agent_id: uuid.UUID, body: RoomAgentUpdate, identity: Identity, api: Api
) -> RoomAgentRead:
    """Switch the agent on/off in the room, reorder it, or change its room settings."""
    changes: dict[str, Any] = {}
    if body.is_active is not None:
        changes["is_active"] = body.is_active
    if body.order is not None:
        changes["order"] = body.order
    if body.settings is not None:
        changes["settings"] = _settings(body.settings)
    assignment = await api.rooms.update(caller_of(identity), room_id, str(agent_id), changes)
    return RoomAgentRead.of(assignment)


@rooms_router.delete(
    "/{agent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "room_agent_not_found"}},
)
async def unassign_agent(
    room_id: RoomId, agent_id: uuid.UUID, identity: Identity, api: Api
) -> Response:
    """Remove the agent from the room (the agent itself stays)."""
    await api.rooms.unassign(room_id, str(agent_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
