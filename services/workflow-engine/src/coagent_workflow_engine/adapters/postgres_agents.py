"""PostgreSQL agents repositories over the tables of :mod:`.postgres_agent_tables`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    RowMapping,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coagent_workflow_engine.adapters.postgres import PostgresUnitOfWork
from coagent_workflow_engine.adapters.postgres_agent_tables import (
    agent_keys,
    agent_types,
    agent_versions,
    agents,
    room_agents,
    user_keys,
)
from coagent_workflow_engine.agents.domain import (
    Agent,
    AgentType,
    AgentVersion,
    RoomAgent,
    WalletKey,
)


def _agent_values(a: Agent) -> dict[str, Any]:
    values = {c.name: getattr(a, c.name) for c in agents.columns}
    values["user_key_ids"] = list(a.user_key_ids)
    values["capabilities"] = list(a.capabilities)
    return values


def _to_agent(r: RowMapping) -> Agent:
    values = dict(r)
    values["user_key_ids"] = tuple(values["user_key_ids"])
    values["capabilities"] = tuple(values["capabilities"])
    return Agent(**values)


class PostgresAgentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def _many(self, *where: Any) -> list[Agent]:
        query = select(agents).where(*where).order_by(agents.c.created_at, agents.c.id)
        return [_to_agent(r) for r in (await self._s.execute(query)).mappings()]

    async def get(self, agent_id: str) -> Agent | None:
        found = await self._many(agents.c.id == agent_id)
        return found[0] if found else None

    async def add(self, agent: Agent) -> None:
        await self._s.execute(insert(agents).values(_agent_values(agent)))

    async def update(self, agent: Agent) -> None:
        values = _agent_values(agent)
        await self._s.execute(update(agents).where(agents.c.id == agent.id).values(values))

    async def delete(self, agent_id: str) -> None:
        await self._s.execute(delete(agents).where(agents.c.id == agent_id))

    async def in_project(self, project_id: str) -> list[Agent]:
        return await self._many(agents.c.project_id == project_id)

    async def templates_of(self, user_id: str) -> list[Agent]:
        return await self._many(agents.c.is_template.is_(True), agents.c.created_by == user_id)

    async def system(self) -> list[Agent]:
        return await self._many(agents.c.is_system.is_(True))

    async def named(self, project_id: str, type_: str, name: str) -> Agent | None:
        found = await self._many(
            agents.c.project_id == project_id, agents.c.type == type_, agents.c.name == name
        )
        return found[0] if found else None

    async def deactivate_others(self, project_id: str, type_: str, keep_id: str) -> None:
        await self._s.execute(
            update(agents)
            .where(
                agents.c.project_id == project_id,
                agents.c.type == type_,
                agents.c.id != keep_id,
                agents.c.is_active.is_(True),
            )
            .values(is_active=False)
        )

    async def forget_user_key(self, user_id: str, key_id: str) -> None:
        # jsonb "-" removes every array element equal to the string; "?" tests membership.
        await self._s.execute(
            text(
                "UPDATE agents SET user_key_ids = user_key_ids - CAST(:key AS text) "
                "WHERE created_by = :user AND user_key_ids ? CAST(:key AS text)"
            ),
            {"key": key_id, "user": user_id},
        )

    async def with_secrets(self) -> list[Agent]:
        return await self._many(agents.c.api_key.isnot(None) | agents.c.external_token.isnot(None))


class PostgresVersionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, version: AgentVersion) -> None:
        values = {c.name: getattr(version, c.name) for c in agent_versions.columns}
        await self._s.execute(insert(agent_versions).values(values))

    async def get(self, version_id: str) -> AgentVersion | None:
        query = select(agent_versions).where(agent_versions.c.id == version_id)
        row = (await self._s.execute(query)).mappings().one_or_none()
        return None if row is None else AgentVersion(**row)

    async def of_agent(self, agent_id: str) -> list[AgentVersion]:
        query = (
            select(agent_versions)
            .where(agent_versions.c.agent_id == agent_id)
            .order_by(agent_versions.c.number.desc())
        )
        return [AgentVersion(**r) for r in (await self._s.execute(query)).mappings()]

    async def latest(self, agent_id: str) -> AgentVersion | None:
        found = await self.of_agent(agent_id)
        return found[0] if found else None


class PostgresAgentKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def of_agent(self, agent_id: str) -> dict[str, str]:
        query = select(agent_keys.c.key_type, agent_keys.c.ciphertext).where(
            agent_keys.c.agent_id == agent_id
        )
        return {r.key_type: r.ciphertext for r in await self._s.execute(query)}

    async def put(self, agent_id: str, key_type: str, ciphertext: str) -> None:
        statement = insert(agent_keys).values(
            agent_id=agent_id, key_type=key_type, ciphertext=ciphertext
        )
        await self._s.execute(
            statement.on_conflict_do_update(
                index_elements=[agent_keys.c.agent_id, agent_keys.c.key_type],
                set_={"ciphertext": ciphertext, "updated_at": func.now()},
            )
        )

    async def remove(self, agent_id: str, key_type: str) -> None:
        await self._s.execute(
            delete(agent_keys).where(
                agent_keys.c.agent_id == agent_id, agent_keys.c.key_type == key_type
            )
        )

    async def every(self) -> list[tuple[str, str, str]]:
        query = select(agent_keys.c.agent_id, agent_keys.c.key_type, agent_keys.c.ciphertext)
        return [(r.agent_id, r.key_type, r.ciphertext) for r in await self._s.execute(query)]


def _to_type(r: RowMapping) -> AgentType:
    values = dict(r)
    values["default_capabilities"] = tuple(values["default_capabilities"])
    return AgentType(**values)


class PostgresAgentTypeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def list(self, category: str | None, include_system: bool) -> list[AgentType]:
        query = select(agent_types).order_by(
            agent_types.c.is_system.desc(), agent_types.c.display_name, agent_types.c.type_name
        )
        if category is not None:
            query = query.where(agent_types.c.category == category)
        if not include_system:
            query = query.where(agent_types.c.is_system.is_(False))
        return [_to_type(r) for r in (await self._s.execute(query)).mappings()]

    async def get(self, type_name: str) -> AgentType | None:
        query = select(agent_types).where(agent_types.c.type_name == type_name)
        row = (await self._s.execute(query)).mappings().one_or_none()
        return None if row is None else _to_type(row)

    async def add(self, agent_type: AgentType) -> bool:
        values = {c.name: getattr(agent_type, c.name) for c in agent_types.columns}
        values["default_capabilities"] = list(agent_type.default_capabilities)
        statement = (
            insert(agent_types)
            .values(values)
            .on_conflict_do_nothing(index_elements=[agent_types.c.type_name])
            .returning(agent_types.c.id)
        )
        return (await self._s.execute(statement)).first() is not None

    async def delete(self, type_name: str) -> None:
        await self._s.execute(delete(agent_types).where(agent_types.c.type_name == type_name))


class PostgresRoomAgentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def of_room(self, room_id: str) -> list[RoomAgent]:
        query = (
            select(room_agents)
            .where(room_agents.c.room_id == room_id)
            .order_by(room_agents.c.position, room_agents.c.created_at, room_agents.c.agent_id)
        )
        return [RoomAgent(**r) for r in (await self._s.execute(query)).mappings()]

    async def get(self, room_id: str, agent_id: str) -> RoomAgent | None:
        query = select(room_agents).where(
            room_agents.c.room_id == room_id, room_agents.c.agent_id == agent_id
        )
        row = (await self._s.execute(query)).mappings().one_or_none()
        return None if row is None else RoomAgent(**row)

    async def add(self, assignment: RoomAgent) -> bool:
        values = {c.name: getattr(assignment, c.name) for c in room_agents.columns}
        statement = (
            insert(room_agents)
            .values(values)
            .on_conflict_do_nothing(index_elements=[room_agents.c.room_id, room_agents.c.agent_id])
            .returning(room_agents.c.agent_id)
        )
        return (await self._s.execute(statement)).first() is not None

    async def update(self, assignment: RoomAgent) -> None:
        values = {c.name: getattr(assignment, c.name) for c in room_agents.columns}
        await self._s.execute(
            update(room_agents)
            .where(
                room_agents.c.room_id == assignment.room_id,
                room_agents.c.agent_id == assignment.agent_id,
            )
            .values(values)
        )

    async def delete(self, room_id: str, agent_id: str) -> None:
        await self._s.execute(
            delete(room_agents).where(
                room_agents.c.room_id == room_id, room_agents.c.agent_id == agent_id
            )
        )


class PostgresWalletKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def of_user(self, user_id: str) -> list[WalletKey]:
        query = (
            select(user_keys)
            .where(user_keys.c.user_id == user_id)
            .order_by(user_keys.c.created_at, user_keys.c.id)
        )
        return [WalletKey(**r) for r in (await self._s.execute(query)).mappings()]

    async def get(self, key_id: str) -> WalletKey | None:
        query = select(user_keys).where(user_keys.c.id == key_id)
        row = (await self._s.execute(query)).mappings().one_or_none()
        return None if row is None else WalletKey(**row)

    async def add(self, key: WalletKey) -> bool:
        values = {c.name: getattr(key, c.name) for c in user_keys.columns}
        statement = (
            insert(user_keys)
            .values(values)
            .on_conflict_do_nothing(index_elements=[user_keys.c.user_id, user_keys.c.alias])
            .returning(user_keys.c.id)
        )
        return (await self._s.execute(statement)).first() is not None

    async def update(self, key: WalletKey) -> None:
        values = {c.name: getattr(key, c.name) for c in user_keys.columns}
        await self._s.execute(update(user_keys).where(user_keys.c.id == key.id).values(values))

    async def delete(self, key_id: str) -> None:
        await self._s.execute(delete(user_keys).where(user_keys.c.id == key_id))

    async def every(self) -> list[WalletKey]:
        return [WalletKey(**r) for r in (await self._s.execute(select(user_keys))).mappings()]


class PostgresAgentsUnitOfWork(PostgresUnitOfWork):
    """The workflow-engine unit of work with the agents repositories bound as well."""

    def bind(self, session: AsyncSession) -> None:
        super().bind(session)
        self.agents = PostgresAgentRepository(session)
        self.agent_versions = PostgresVersionRepository(session)
        self.agent_keys = PostgresAgentKeyRepository(session)
        self.agent_types = PostgresAgentTypeRepository(session)
        self.room_agents = PostgresRoomAgentRepository(session)
        self.wallet_keys = PostgresWalletKeyRepository(session)
