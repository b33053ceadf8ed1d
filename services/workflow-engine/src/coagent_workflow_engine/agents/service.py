"""Agent configurations and their versions: the use cases behind /agents and /agent-config.

Every edit that changes a versioned field snapshots a new immutable version in the same
transaction, so ``current_version`` always names exactly what a run is about to use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from coagent_contracts.envelope import uuid7
from coagent_kit.errors import Forbidden
from coagent_workflow_engine.agents.crypto import KeyCipher
from coagent_workflow_engine.agents.domain import (
    EDITABLE_FIELDS,
    Agent,
    AgentInput,
    AgentNameTaken,
    AgentNotFound,
    AgentVersion,
    AgentView,
    Caller,
    ExternalConfigRequired,
    InvalidUserKey,
    NoParentTemplate,
    NotATemplate,
    ParentNotFound,
    VersionNotFound,
    can_create,
    issue_callback_token,
    mask_secret,
    require_manage,
    restored,
    snapshot,
    synced,
    versioned_changed,
)
from coagent_workflow_engine.agents.ports import AgentsUnitOfWork, AgentsUnitOfWorkFactory

Clock = Callable[[], datetime]


def _secret(cipher: KeyCipher, current: str | None, given: str | None) -> str | None:
    if given is None:
        return current
    return cipher.encrypt(given) if given else None


async def managed_agent(uow: AgentsUnitOfWork, caller: Caller, agent_id: str) -> Agent:
    """The agent ``caller`` may manage; 404 ``agent_not_found`` or 403 ``forbidden``."""
    agent = await uow.agents.get(agent_id)
    if agent is None:
        raise AgentNotFound("Agent not found")
    require_manage(caller, agent)
    return agent


class AgentService:
    """Create, read, edit, activate, clone, sync and version agent configurations."""

    def __init__(
        self,
        unit_of_work: AgentsUnitOfWorkFactory,
        cipher: KeyCipher,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = unit_of_work
        self._cipher = cipher
        self._clock = clock

    def view(self, agent: Agent, callback_token: str | None = None) -> AgentView:
        """Mask the agent's key for a response."""
        plain = self._cipher.decrypt(agent.api_key) if agent.api_key else None
        return AgentView(
            agent, mask_secret(plain), agent.external_token is not None, callback_token
        )

    # -- creating -------------------------------------------------------------------------------

    async def create(
        self, caller: Caller, data: AgentInput, project_id: str | None, template: bool
    ) -> AgentView:
        """A project agent, or (``project_id`` None) a template of the caller's."""
        if not can_create(caller):
            raise Forbidden("Guests may not create agents")
        now = self._clock()
        base = Agent(
            id=str(uuid7()),
            name="My Agent" if template else "Default Profile",
            type="teacher",
            system_prompt="",
            model_provider="gemini",
            model=None,
            created_by=caller.user_id,
            created_at=now,
            updated_at=now,
            project_id=project_id,
            is_template=template,
            is_active=True,
        )
        async with self._uow() as uow:
            agent = self._apply(base, data, now)
            if project_id is not None and "is_active" not in data.changes:
                siblings = await uow.agents.in_project(project_id)
                agent = replace(
                    agent, is_active=not any(a.is_active and a.type == agent.type for a in siblings)
                )
            await self._check(uow, agent)
            agent, token = issue_callback_token(agent)
            await uow.agents.add(agent)
            await self._after_write(uow, agent, caller, "v1")
            await uow.commit()
        return self.view(agent, token)

    async def put_system(self, caller: Caller, type_: str, data: AgentInput) -> AgentView:
        """Create or edit the system agent of ``type_`` (admins only)."""
        if not caller.is_admin:
            raise Forbidden("Only administrators configure system agents")
        now = self._clock()
        async with self._uow() as uow:
            existing = next((a for a in await uow.agents.system() if a.type == type_), None)
            if existing is None:
                base = Agent(
                    id=str(uuid7()),
                    name=f"{type_.capitalize()} Agent",
                    type=type_,
                    system_prompt="",
                    model_provider="gemini",
                    model=None,
                    created_by=caller.user_id,
                    created_at=now,
                    updated_at=now,
                    is_system=True,
                    is_active=True,
                    category="utility",
                )
                agent = self._apply(base, data, now, keep_type=True)
                await uow.agents.add(agent)
                await self._after_write(uow, agent, caller, "v1")
            else:
                agent = await self._edit(uow, caller, existing, data, now, keep_type=True)
            await uow.commit()
        return self.view(agent)

    async def clone_to_project(
        self, caller: Caller, template_id: str, project_id: str
    ) -> AgentView:
        """A project copy of a template, linked to it for later syncs."""
        if not can_create(caller):
            raise Forbidden("Guests may not create agents")
        now = self._clock()
        async with self._uow() as uow:
            source = await managed_agent(uow, caller, template_id)
            if not source.is_template:
                raise NotATemplate("Source agent is not a template")
            copy = replace(
                source,
                id=str(uuid7()),
                project_id=project_id,
                is_template=False,
                parent_config_id=source.id,
                created_by=caller.user_id,
                created_at=now,
                updated_at=now,
                version=1,
                is_active=True,
                # Wallet keys are personal: the copy's owner chooses their own chain.
                user_key_ids=source.user_key_ids if source.created_by == caller.user_id else (),
            )
            await self._check(uow, copy)
            copy, token = issue_callback_token(replace(copy, callback_token_hash=None))
            await uow.agents.add(copy)
            for key_type, ciphertext in (await uow.agent_keys.of_agent(source.id)).items():
                await uow.agent_keys.put(copy.id, key_type, ciphertext)
            await self._after_write(uow, copy, caller, "v1")
            await uow.commit()
        return self.view(copy, token)

    # -- reading --------------------------------------------------------------------------------

    async def system(self) -> list[Agent]:
        """The system agents (callers see them masked or as names only)."""
        async with self._uow() as uow:
            return await uow.agents.system()

    async def in_project(self, caller: Caller, project_id: str) -> list[AgentView]:
        """The project's agents the caller may read."""
        async with self._uow() as uow:
            agents = await uow.agents.in_project(project_id)
        return [self.view(a) for a in agents if caller.is_admin or a.created_by == caller.user_id]

    async def templates(self, caller: Caller) -> list[AgentView]:
        """The caller's own templates."""
        async with self._uow() as uow:
            return [self.view(a) for a in await uow.agents.templates_of(caller.user_id)]

    async def get(self, caller: Caller, agent_id: str) -> AgentView:
        """One agent the caller may manage."""
        async with self._uow() as uow:
            return self.view(await managed_agent(uow, caller, agent_id))

    # -- editing --------------------------------------------------------------------------------

    async def update(self, caller: Caller, agent_id: str, data: AgentInput) -> AgentView:
        """Apply the given fields; the others keep their values."""
        now = self._clock()
        async with self._uow() as uow:
            agent = await managed_agent(uow, caller, agent_id)
            agent = await self._edit(uow, caller, agent, data, now, keep_type=agent.is_system)
            await uow.commit()
        return self.view(agent)

    async def activate(self, caller: Caller, agent_id: str) -> AgentView:
        """Make this the active agent of its type in its project."""
        return await self.update(caller, agent_id, AgentInput({"is_active": True}))

    async def delete(self, caller: Caller, agent_id: str) -> None:
        """Delete the agent with its versions, keys and room assignments."""
        async with self._uow() as uow:
            await managed_agent(uow, caller, agent_id)
            await uow.agents.delete(agent_id)
            await uow.commit()

    async def sync_from_parent(self, caller: Caller, agent_id: str) -> AgentView:
        """Copy the template's behaviour into this project copy."""
        now = self._clock()
        async with self._uow() as uow:
            agent = await managed_agent(uow, caller, agent_id)
            if agent.parent_config_id is None:
                raise NoParentTemplate("Agent has no parent template to sync from")
            parent = await uow.agents.get(agent.parent_config_id)
            if parent is None:
                raise ParentNotFound("Parent template not found")
            require_manage(caller, parent)
            after = await self._save(
                uow, caller, agent, synced(agent, parent, now), f"sync from {parent.name}"
            )
            await uow.commit()
        return self.view(after)

    # -- versions -------------------------------------------------------------------------------

    async def create_version(self, caller: Caller, agent_id: str, label: str) -> AgentVersion:
        """A labelled snapshot of the agent as it is now."""
        async with self._uow() as uow:
            agent = await managed_agent(uow, caller, agent_id)
            agent, version = await self._snapshot(uow, caller, agent, label)
            await uow.agents.update(agent)
            await uow.commit()
        return version

    async def versions(self, caller: Caller, agent_id: str) -> list[AgentVersion]:
        """The agent's versions, newest first."""
        async with self._uow() as uow:
            await managed_agent(uow, caller, agent_id)
            return await uow.agent_versions.of_agent(agent_id)

    async def restore(self, caller: Caller, agent_id: str, version_id: str) -> AgentView:
        """Put back every versioned field of one of the agent's versions (a new version)."""
        now = self._clock()
        async with self._uow() as uow:
            agent = await managed_agent(uow, caller, agent_id)
            version = await uow.agent_versions.get(version_id)
            if version is None or version.agent_id != agent_id:
                raise VersionNotFound("Version not found")
            label = f"restore of {version.version_label}"
            after, _ = await self._snapshot(uow, caller, restored(agent, version, now), label)
            await uow.agents.update(after)
            await uow.commit()
        return self.view(after)

    async def current_version(self, agent_id: str) -> AgentVersion | None:
        """The version a run starting now would use (``None``: no such agent)."""
        async with self._uow() as uow:
            return await uow.agent_versions.latest(agent_id)

    # -- internals ------------------------------------------------------------------------------

    def _apply(
        self, agent: Agent, data: AgentInput, now: datetime, keep_type: bool = False
    ) -> Agent:
        changes = {k: v for k, v in data.changes.items() if k in EDITABLE_FIELDS}
        if keep_type:
            changes.pop("type", None)
        if "user_key_ids" in changes:
            changes["user_key_ids"] = tuple(dict.fromkeys(changes["user_key_ids"]))
        if "capabilities" in changes:
            changes["capabilities"] = tuple(changes["capabilities"])
        after = replace(agent, **changes, updated_at=now)
        external_token = _secret(self._cipher, agent.external_token, data.external_token)
        if after.external_config is None:
            external_token = None
        return replace(
            after,
            api_key=_secret(self._cipher, agent.api_key, data.api_key),
            external_token=external_token,
        )

    async def _edit(
        self,
        uow: AgentsUnitOfWork,
        caller: Caller,
        agent: Agent,
        data: AgentInput,
        now: datetime,
        keep_type: bool,
    ) -> Agent:
        after = self._apply(agent, data, now, keep_type)
        await self._check(uow, after, before=agent)
        return await self._save(uow, caller, agent, after, None)

    async def _save(
        self, uow: AgentsUnitOfWork, caller: Caller, before: Agent, after: Agent, label: str | None
    ) -> Agent:
        if versioned_changed(before, after):
            after, _ = await self._snapshot(uow, caller, after, label)
        await uow.agents.update(after)
        await self._exclusive(uow, after)
        return after

    async def _snapshot(
        self, uow: AgentsUnitOfWork, caller: Caller, agent: Agent, label: str | None
    ) -> tuple[Agent, AgentVersion]:
        """Store the next version of ``agent``; the agent is returned with its new number."""
        number = agent.version + 1
        version = snapshot(
            agent, str(uuid7()), number, label or f"v{number}", caller.user_id, self._clock()
        )
        await uow.agent_versions.add(version)
        return replace(agent, version=number), version

    async def _after_write(
        self, uow: AgentsUnitOfWork, agent: Agent, caller: Caller, label: str
    ) -> None:
        first = snapshot(
            agent, str(uuid7()), agent.version, label, caller.user_id, agent.created_at
        )
        await uow.agent_versions.add(first)
        await self._exclusive(uow, agent)

    async def _exclusive(self, uow: AgentsUnitOfWork, agent: Agent) -> None:
        # One active agent per (project, type): activating one deactivates its siblings.
        if agent.is_active and agent.project_id is not None:
            await uow.agents.deactivate_others(agent.project_id, agent.type, agent.id)

    async def _check(
        self, uow: AgentsUnitOfWork, agent: Agent, before: Agent | None = None
    ) -> None:
        if agent.is_external and agent.external_config is None:
            raise ExternalConfigRequired("An external agent needs external_config.webhook_url")
        if agent.project_id is not None and (
            before is None or (before.name, before.type) != (agent.name, agent.type)
        ):
            clash = await uow.agents.named(agent.project_id, agent.type, agent.name)
            if clash is not None and clash.id != agent.id:
                raise AgentNameTaken("An agent with this name and type already exists")
        if before is not None and before.user_key_ids == agent.user_key_ids:
            return
        for key_id in agent.user_key_ids:
            key = await uow.wallet_keys.get(key_id)
            if key is None or key.user_id != agent.created_by:
                raise InvalidUserKey(f"Key {key_id} is not a key of the agent's owner")
