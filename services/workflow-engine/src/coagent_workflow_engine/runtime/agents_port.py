"""The agents subpackage as the runtime's ``AgentDirectory`` (configs, pinned versions, keys)."""

from __future__ import annotations

from coagent_workflow_engine.agents.domain import Agent, AgentVersion
from coagent_workflow_engine.agents.keys import KeyService
from coagent_workflow_engine.agents.ports import AgentsUnitOfWorkFactory
from coagent_workflow_engine.runtime.deps import AgentSpec


class AgentsDirectory:
    """Reads agents through their own unit of work; keys through ``KeyService`` (who pays)."""

    def __init__(self, unit_of_work: AgentsUnitOfWorkFactory, keys: KeyService) -> None:
        self._uow = unit_of_work
        self._keys = keys

    async def resolve(self, agent_id: str, version: int | None) -> AgentSpec | None:
        async with self._uow() as uow:
            agent = await uow.agents.get(agent_id)
            if agent is None:
                return None
            if version is None:
                return _spec(agent)
            for pinned in await uow.agent_versions.of_agent(agent_id):
                if pinned.number == version:
                    return _spec(agent, pinned)
        return None

    async def api_key(self, agent: AgentSpec, running_user: str | None) -> str | None:
        async with self._uow() as uow:
            stored = await uow.agents.get(agent.id)
        if stored is None:
            return None
        found = await self._keys.resolve_key(stored, running_user)
        return found[1] if found else None


def _spec(agent: Agent, pinned: AgentVersion | None = None) -> AgentSpec:
    source = pinned or agent
    return AgentSpec(
        id=agent.id,
        name=agent.name,
        type=agent.type,
        system_prompt=source.system_prompt,
        provider=source.model_provider,
        model=source.model,
        version=pinned.number if pinned else agent.version,
        context_window=source.context_window,
        settings=dict(source.settings),
    )
