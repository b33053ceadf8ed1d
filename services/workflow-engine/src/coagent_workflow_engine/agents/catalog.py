"""Agent types and room assignments: the use cases behind /agent-types and /rooms/{id}/agents.

Rooms belong to the gateway, which has already decided that the caller may read the room (or,
for writes, manage its agents) before forwarding; what is left to decide here is whether the
caller may put *this agent* into a room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from coagent_contracts.envelope import uuid7
from coagent_kit.errors import Forbidden
from coagent_workflow_engine.agents.domain import (
    Agent,
    AgentAlreadyAssigned,
    AgentNotFound,
    AgentType,
    AgentTypeExists,
    AgentTypeNotFound,
    Caller,
    RoomAgent,
    RoomAgentNotFound,
    SystemTypeProtected,
    can_use,
)
from coagent_workflow_engine.agents.ports import AgentsUnitOfWorkFactory

Clock = Callable[[], datetime]


class AgentTypeService:
    """Read agent types; admins add and remove custom ones."""

    def __init__(
        self, unit_of_work: AgentsUnitOfWorkFactory, clock: Clock = lambda: datetime.now(UTC)
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def list(self, category: str | None, include_system: bool) -> list[AgentType]:
        """System types first, then by display name."""
        async with self._uow() as uow:
            return await uow.agent_types.list(category, include_system)

    async def get(self, type_name: str) -> AgentType:
        """One type; 404 ``agent_type_not_found``."""
        async with self._uow() as uow:
            found = await uow.agent_types.get(type_name)
        if found is None:
            raise AgentTypeNotFound(f"Agent type '{type_name}' not found")
        return found

    async def create(self, caller: Caller, fields: dict[str, Any]) -> AgentType:
        """A custom type (admins); 409 ``agent_type_exists``."""
        if not caller.is_admin:
            raise Forbidden("Only administrators define agent types")
        now = self._clock()
        agent_type = AgentType(
            **fields, id=str(uuid7()), created_by=caller.user_id, created_at=now, updated_at=now
        )
        async with self._uow() as uow:
            if not await uow.agent_types.add(agent_type):
                raise AgentTypeExists(f"Agent type '{agent_type.type_name}' already exists")
            await uow.commit()
        return agent_type

    async def delete(self, caller: Caller, type_name: str) -> None:
        """Remove a custom type (admins); 400 ``system_type`` for the seeded ones."""
        if not caller.is_admin:
            raise Forbidden("Only administrators remove agent types")
        found = await self.get(type_name)
        if found.is_system:
            raise SystemTypeProtected(f"Cannot delete system type '{type_name}'")
        async with self._uow() as uow:
            await uow.agent_types.delete(type_name)
            await uow.commit()


@dataclass(frozen=True)
class Assignment:
    """A room assignment with the agent it names (for display: no secrets)."""

    room_agent: RoomAgent
    agent: Agent


class RoomAgentService:
    """Which agents serve a room, in which order, with which per-room settings."""

    def __init__(
        self, unit_of_work: AgentsUnitOfWorkFactory, clock: Clock = lambda: datetime.now(UTC)
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock

    async def of_room(self, room_id: str) -> list[Assignment]:
        """The room's agents in display order."""
        async with self._uow() as uow:
            result = []
            for assignment in await uow.room_agents.of_room(room_id):
                agent = await uow.agents.get(assignment.agent_id)
                if agent is not None:
                    result.append(Assignment(assignment, agent))
        return result

    async def assign(
        self,
        caller: Caller,
        room_id: str,
        agent_id: str,
        settings: dict[str, Any],
        is_active: bool,
        order: int | None,
    ) -> Assignment:
        """Add an agent the caller may use; 409 ``agent_already_assigned`` if it is there."""
        now = self._clock()
        async with self._uow() as uow:
            agent = await uow.agents.get(agent_id)
            if agent is None:
                raise AgentNotFound("Agent not found")
            if not can_use(caller, agent):
                raise Forbidden("You may not use this agent")
            if order is None:
                order = 1 + max(
                    (a.position for a in await uow.room_agents.of_room(room_id)), default=-1
                )
            assignment = RoomAgent(
                room_id=room_id,
                agent_id=agent_id,
                is_active=is_active,
                position=order,
                settings=settings,
                created_by=caller.user_id,
                created_at=now,
                updated_at=now,
                updated_by=caller.user_id,
            )
            if not await uow.room_agents.add(assignment):
                raise AgentAlreadyAssigned("This agent is already assigned to the room")
            await uow.commit()
        return Assignment(assignment, agent)

    async def update(
        self, caller: Caller, room_id: str, agent_id: str, changes: dict[str, Any]
    ) -> Assignment:
        """Change ``is_active``, ``order`` and/or ``settings`` of an assignment."""
        async with self._uow() as uow:
            assignment = await uow.room_agents.get(room_id, agent_id)
            agent = await uow.agents.get(agent_id)
            if assignment is None or agent is None:
                raise RoomAgentNotFound("This agent is not assigned to the room")
            if "order" in changes:
                changes["position"] = changes.pop("order")
            assignment = replace(
                assignment, **changes, updated_at=self._clock(), updated_by=caller.user_id
            )
            await uow.room_agents.update(assignment)
            await uow.commit()
        return Assignment(assignment, agent)

    async def unassign(self, room_id: str, agent_id: str) -> None:
        """Remove the agent from the room; 404 ``room_agent_not_found`` if it is not there."""
        async with self._uow() as uow:
            if await uow.room_agents.get(room_id, agent_id) is None:
                raise RoomAgentNotFound("This agent is not assigned to the room")
            await uow.room_agents.delete(room_id, agent_id)
            await uow.commit()
