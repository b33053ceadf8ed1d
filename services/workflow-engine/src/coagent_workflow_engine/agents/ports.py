"""What the agents use cases need from storage (one transaction = one unit of work)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coagent_kit.unit_of_work import UnitOfWorkPort
from coagent_workflow_engine.agents.domain import (
    Agent,
    AgentType,
    AgentVersion,
    RoomAgent,
    WalletKey,
)


class AgentRepository(Protocol):
    """Agent configurations (deleting one removes its versions, keys and room assignments)."""

    async def get(self, agent_id: str) -> Agent | None: ...

    async def add(self, agent: Agent) -> None: ...

    async def update(self, agent: Agent) -> None: ...

    async def delete(self, agent_id: str) -> None: ...

    async def in_project(self, project_id: str) -> list[Agent]:
        """The agents of a project, oldest first."""
        ...

    async def templates_of(self, user_id: str) -> list[Agent]:
        """The templates ("My Agents") ``user_id`` created, oldest first."""
        ...

    async def system(self) -> list[Agent]:
        """The system agents (design, analytics)."""
        ...

    async def named(self, project_id: str, type_: str, name: str) -> Agent | None:
        """The agent of ``project_id`` with this type and name, if any."""
        ...

    async def deactivate_others(self, project_id: str, type_: str, keep_id: str) -> None:
        """Mark every other agent of this project and type inactive."""
        ...

    async def forget_user_key(self, user_id: str, key_id: str) -> None:
        """Drop ``key_id`` from the key chains of the agents ``user_id`` created."""
        ...

    async def with_secrets(self) -> list[Agent]:
        """Every agent holding an encrypted secret (key rotation)."""
        ...


class VersionRepository(Protocol):
    """Immutable agent versions."""

    async def add(self, version: AgentVersion) -> None: ...

    async def get(self, version_id: str) -> AgentVersion | None: ...

    async def of_agent(self, agent_id: str) -> list[AgentVersion]:
        """Newest first."""
        ...

    async def latest(self, agent_id: str) -> AgentVersion | None: ...


class AgentKeyRepository(Protocol):
    """Per-agent encrypted keys by key type."""

    async def of_agent(self, agent_id: str) -> dict[str, str]:
        """``{key_type: ciphertext}``."""
        ...

    async def put(self, agent_id: str, key_type: str, ciphertext: str) -> None: ...

    async def remove(self, agent_id: str, key_type: str) -> None: ...

    async def every(self) -> list[tuple[str, str, str]]:
        """``(agent_id, key_type, ciphertext)`` of every stored key (key rotation)."""
        ...


class AgentTypeRepository(Protocol):
    """Agent types; system types are seeded by the migration."""

    async def list(self, category: str | None, include_system: bool) -> list[AgentType]:
        """System types first, then by display name."""
        ...

    async def get(self, type_name: str) -> AgentType | None: ...

    async def add(self, agent_type: AgentType) -> bool:
        """False (nothing stored) when the type name exists."""
        ...

    async def delete(self, type_name: str) -> None: ...


class RoomAgentRepository(Protocol):
    """Which agents serve which room."""

    async def of_room(self, room_id: str) -> list[RoomAgent]:
        """In display order."""
        ...

    async def get(self, room_id: str, agent_id: str) -> RoomAgent | None: ...

    async def add(self, assignment: RoomAgent) -> bool:
        """False (nothing stored) when the agent is already assigned to the room."""
        ...

    async def update(self, assignment: RoomAgent) -> None: ...

    async def delete(self, room_id: str, agent_id: str) -> None: ...


class WalletKeyRepository(Protocol):
    """Users' provider keys; an alias is unique per user."""

    async def of_user(self, user_id: str) -> list[WalletKey]:
        """Oldest first."""
        ...

    async def get(self, key_id: str) -> WalletKey | None: ...

    async def add(self, key: WalletKey) -> bool:
        """False (nothing stored) when the user already has a key with this alias."""
        ...

    async def update(self, key: WalletKey) -> None: ...

    async def delete(self, key_id: str) -> None: ...

    async def every(self) -> list[WalletKey]:
        """All keys (key rotation)."""
        ...


class AgentsUnitOfWork(UnitOfWorkPort, Protocol):
    """One transaction over every agents repository."""

    @property
    def agents(self) -> AgentRepository: ...

    @property
    def agent_versions(self) -> VersionRepository: ...

    @property
    def agent_keys(self) -> AgentKeyRepository: ...

    @property
    def agent_types(self) -> AgentTypeRepository: ...

    @property
    def room_agents(self) -> RoomAgentRepository: ...

    @property
    def wallet_keys(self) -> WalletKeyRepository: ...


AgentsUnitOfWorkFactory = Callable[[], AgentsUnitOfWork]
