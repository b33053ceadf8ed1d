"""In-memory agents repositories: a unit of work edits a copy of the tables, commit swaps it in."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from coagent_workflow_engine.agents.domain import (
    Agent,
    AgentType,
    AgentVersion,
    RoomAgent,
    WalletKey,
    system_types,
)


@dataclass
class AgentTables:
    """Committed (or, inside a unit, staged) agents state; rows are frozen dataclasses."""

    agents: dict[str, Agent] = field(default_factory=dict)
    versions: dict[str, AgentVersion] = field(default_factory=dict)
    agent_keys: dict[tuple[str, str], str] = field(default_factory=dict)
    agent_types: dict[str, AgentType] = field(
        default_factory=lambda: {t.type_name: t for t in system_types()}
    )
    room_agents: dict[tuple[str, str], RoomAgent] = field(default_factory=dict)
    wallet_keys: dict[str, WalletKey] = field(default_factory=dict)

    def copy(self) -> AgentTables:
        return AgentTables(
            dict(self.agents),
            dict(self.versions),
            dict(self.agent_keys),
            dict(self.agent_types),
            dict(self.room_agents),
            dict(self.wallet_keys),
        )


class MemoryAgentRepository:
    def __init__(self, t: AgentTables) -> None:
        self._t = t

    async def get(self, agent_id: str) -> Agent | None:
        return self._t.agents.get(agent_id)

    async def add(self, agent: Agent) -> None:
        self._t.agents[agent.id] = agent

    async def update(self, agent: Agent) -> None:
        self._t.agents[agent.id] = agent

    async def delete(self, agent_id: str) -> None:
        # The same cascade as the database's foreign keys.
        self._t.agents.pop(agent_id, None)
        for v in [v for v in self._t.versions.values() if v.agent_id == agent_id]:
            del self._t.versions[v.id]
        for k in [k for k in self._t.agent_keys if k[0] == agent_id]:
            del self._t.agent_keys[k]
        for k in [k for k in self._t.room_agents if k[1] == agent_id]:
            del self._t.room_agents[k]
        for a in list(self._t.agents.values()):
            if a.parent_config_id == agent_id:
                self._t.agents[a.id] = replace(a, parent_config_id=None)

    def _sorted(self, agents: list[Agent]) -> list[Agent]:
        return sorted(agents, key=lambda a: (a.created_at, a.id))

    async def in_project(self, project_id: str) -> list[Agent]:
        return self._sorted([a for a in self._t.agents.values() if a.project_id == project_id])

    async def templates_of(self, user_id: str) -> list[Agent]:
        return self._sorted(
            [a for a in self._t.agents.values() if a.is_template and a.created_by == user_id]
        )

    async def system(self) -> list[Agent]:
        return self._sorted([a for a in self._t.agents.values() if a.is_system])

    async def named(self, project_id: str, type_: str, name: str) -> Agent | None:
        return next(
            (
                a
                for a in self._t.agents.values()
                if (a.project_id, a.type, a.name) == (project_id, type_, name)
            ),
            None,
        )

    async def deactivate_others(self, project_id: str, type_: str, keep_id: str) -> None:
        for a in list(self._t.agents.values()):
            if a.project_id == project_id and a.type == type_ and a.id != keep_id and a.is_active:
                self._t.agents[a.id] = replace(a, is_active=False)

    async def forget_user_key(self, user_id: str, key_id: str) -> None:
        for a in list(self._t.agents.values()):
            if a.created_by == user_id and key_id in a.user_key_ids:
                ids = tuple(k for k in a.user_key_ids if k != key_id)
                self._t.agents[a.id] = replace(a, user_key_ids=ids)

    async def with_secrets(self) -> list[Agent]:
        return [a for a in self._t.agents.values() if a.api_key or a.external_token]


class MemoryVersionRepository:
    def __init__(self, t: AgentTables) -> None:
        self._t = t

    async def add(self, version: AgentVersion) -> None:
        self._t.versions[version.id] = version

    async def get(self, version_id: str) -> AgentVersion | None:
        return self._t.versions.get(version_id)

    async def of_agent(self, agent_id: str) -> list[AgentVersion]:
        found = [v for v in self._t.versions.values() if v.agent_id == agent_id]
        return sorted(found, key=lambda v: v.number, reverse=True)

    async def latest(self, agent_id: str) -> AgentVersion | None:
        found = await self.of_agent(agent_id)
        return found[0] if found else None


class MemoryAgentKeyRepository:
    def __init__(self, t: AgentTables) -> None:
        self._t = t

    async def of_agent(self, agent_id: str) -> dict[str, str]:
        return {k[1]: v for k, v in self._t.agent_keys.items() if k[0] == agent_id}

    async def put(self, agent_id: str, key_type: str, ciphertext: str) -> None:
        self._t.agent_keys[(agent_id, key_type)] = ciphertext

    async def remove(self, agent_id: str, key_type: str) -> None:
        self._t.agent_keys.pop((agent_id, key_type), None)

    async def every(self) -> list[tuple[str, str, str]]:
        return [(a, t, c) for (a, t), c in self._t.agent_keys.items()]


class MemoryAgentTypeRepository:
    def __init__(self, t: AgentTables) -> None:
        self._t = t

    async def list(self, category: str | None, include_system: bool) -> list[AgentType]:
        found = [
            t
            for t in self._t.agent_types.values()
            if (category is None or t.category == category) and (include_system or not t.is_system)
        ]
        return sorted(found, key=lambda t: (not t.is_system, t.display_name, t.type_name))

    async def get(self, type_name: str) -> AgentType | None:
        return self._t.agent_types.get(type_name)

    async def add(self, agent_type: AgentType) -> bool:
        if agent_type.type_name in self._t.agent_types:
            return False
        self._t.agent_types[agent_type.type_name] = agent_type
        return True

    async def delete(self, type_name: str) -> None:
        self._t.agent_types.pop(type_name, None)


class MemoryRoomAgentRepository:
    def __init__(self, t: AgentTables) -> None:
        self._t = t

    async def of_room(self, room_id: str) -> list[RoomAgent]:
        found = [r for r in self._t.room_agents.values() if r.room_id == room_id]
        return sorted(found, key=lambda r: (r.position, r.created_at, r.agent_id))

    async def get(self, room_id: str, agent_id: str) -> RoomAgent | None:
        return self._t.room_agents.get((room_id, agent_id))

    async def add(self, assignment: RoomAgent) -> bool:
        key = (assignment.room_id, assignment.agent_id)
        if key in self._t.room_agents:
            return False
        self._t.room_agents[key] = assignment
        return True

    async def update(self, assignment: RoomAgent) -> None:
        self._t.room_agents[(assignment.room_id, assignment.agent_id)] = assignment

    async def delete(self, room_id: str, agent_id: str) -> None:
        self._t.room_agents.pop((room_id, agent_id), None)


class MemoryWalletKeyRepository:
    def __init__(self, t: AgentTables) -> None:
        self._t = t

    async def of_user(self, user_id: str) -> list[WalletKey]:
        found = [k for k in self._t.wallet_keys.values() if k.user_id == user_id]
        return sorted(found, key=lambda k: (k.created_at, k.id))

    async def get(self, key_id: str) -> WalletKey | None:
        return self._t.wallet_keys.get(key_id)

    async def add(self, key: WalletKey) -> bool:
        if any(
            (k.user_id, k.alias) == (key.user_id, key.alias) for k in self._t.wallet_keys.values()
        ):
            return False
        self._t.wallet_keys[key.id] = key
        return True

    async def update(self, key: WalletKey) -> None:
        self._t.wallet_keys[key.id] = key

    async def delete(self, key_id: str) -> None:
        self._t.wallet_keys.pop(key_id, None)

    async def every(self) -> list[WalletKey]:
        return list(self._t.wallet_keys.values())


class MemoryAgentRepositories:
    """The agents repositories of one unit of work, over its staged copy of the tables."""

    def __init__(self, staged: AgentTables) -> None:
        self.staged = staged
        self.agents = MemoryAgentRepository(staged)
        self.agent_versions = MemoryVersionRepository(staged)
        self.agent_keys = MemoryAgentKeyRepository(staged)
        self.agent_types = MemoryAgentTypeRepository(staged)
        self.room_agents = MemoryRoomAgentRepository(staged)
        self.wallet_keys = MemoryWalletKeyRepository(staged)
