"""Provider keys: the user key wallet, per-agent keys, and who may spend which key.

Keys are write-only: they are encrypted on the way in and only ever leave as a mask, except
through :meth:`KeyService.resolve_key`, which the run executor calls in-process (never over HTTP).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from coagent_contracts.envelope import uuid7
from coagent_kit.errors import Forbidden
from coagent_workflow_engine.agents.configs import schedule_allows
from coagent_workflow_engine.agents.crypto import KeyCipher
from coagent_workflow_engine.agents.domain import (
    Agent,
    AgentView,
    Caller,
    KeyAliasTaken,
    KeyNotFound,
    WalletKey,
    can_create,
    mask_secret,
)
from coagent_workflow_engine.agents.ports import AgentsUnitOfWorkFactory
from coagent_workflow_engine.agents.service import AgentService, managed_agent

Clock = Callable[[], datetime]
#: Providers that need no key: the deterministic offline model and external (webhook) agents.
KEYLESS_PROVIDERS = frozenset({"offline", "external"})
#: Per-agent key types tried first, in this order; other types follow alphabetically.
AGENT_KEY_ORDER = ("room_key", "global_key", "backup_key")


@dataclass(frozen=True)
class WalletKeyView:
    """A wallet key as its owner sees it."""

    key: WalletKey
    masked_key: str | None


@dataclass(frozen=True)
class RotationReport:
    """How many stored secrets a rotation re-encrypted."""

    agent_secrets: int
    agent_keys: int
    wallet_keys: int


def _agent_key_rank(key_type: str) -> tuple[int, str]:
    order = AGENT_KEY_ORDER.index(key_type) if key_type in AGENT_KEY_ORDER else len(AGENT_KEY_ORDER)
    return order, key_type


class KeyService:
    """Wallet CRUD, per-agent keys, key resolution for runs and re-encryption on rotation."""

    def __init__(
        self,
        unit_of_work: AgentsUnitOfWorkFactory,
        cipher: KeyCipher,
        agents: AgentService,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self._uow = unit_of_work
        self._cipher = cipher
        self._agents = agents
        self._clock = clock

    def _view(self, key: WalletKey) -> WalletKeyView:
        return WalletKeyView(key, mask_secret(self._cipher.decrypt(key.ciphertext)))

    # -- the wallet -----------------------------------------------------------------------------

    async def wallet(self, caller: Caller) -> list[WalletKeyView]:
        """The caller's own keys, masked."""
        async with self._uow() as uow:
            return [self._view(k) for k in await uow.wallet_keys.of_user(caller.user_id)]

    async def add_to_wallet(
        self, caller: Caller, provider: str, alias: str, api_key: str, description: str | None
    ) -> WalletKeyView:
        """Store a key for the caller; 409 ``key_alias_taken`` when the alias is in use."""
        if not can_create(caller):
            raise Forbidden("Guests may not store keys")
        now = self._clock()
        key = WalletKey(
            id=str(uuid7()),
            user_id=caller.user_id,
            provider=provider,
            alias=alias,
            ciphertext=self._cipher.encrypt(api_key),
            description=description,
            created_at=now,
            updated_at=now,
        )
        async with self._uow() as uow:
            if not await uow.wallet_keys.add(key):
                raise KeyAliasTaken("Key with this alias already exists")
            await uow.commit()
        return self._view(key)

    async def _own_key(self, caller: Caller, key_id: str) -> WalletKey:
        async with self._uow() as uow:
            key = await uow.wallet_keys.get(key_id)
        # Someone else's key is "not found": its existence is nobody else's business.
        if key is None or key.user_id != caller.user_id:
            raise KeyNotFound("Key not found")
        return key

    async def delete_from_wallet(self, caller: Caller, key_id: str) -> None:
        """Delete one of the caller's keys and drop it from their agents' key chains."""
        await self._own_key(caller, key_id)
        async with self._uow() as uow:
            await uow.wallet_keys.delete(key_id)
            await uow.agents.forget_user_key(caller.user_id, key_id)
            await uow.commit()

    async def schedule(self, caller: Caller, key_id: str, changes: dict[str, Any]) -> WalletKeyView:
        """Set ``is_active`` and/or ``schedule_config`` (``None`` clears the schedule)."""
        key = await self._own_key(caller, key_id)
        allowed = {k: v for k, v in changes.items() if k in ("is_active", "schedule_config")}
        if allowed.get("is_active", True) is None:
            allowed.pop("is_active")
        key = replace(key, **allowed, updated_at=self._clock())
        async with self._uow() as uow:
            await uow.wallet_keys.update(key)
            await uow.commit()
        return self._view(key)

    # -- per-agent keys -------------------------------------------------------------------------

    async def agent_keys(self, caller: Caller, agent_id: str) -> dict[str, str]:
        """``{key_type: mask}`` of an agent the caller manages."""
        async with self._uow() as uow:
            await managed_agent(uow, caller, agent_id)
            stored = await uow.agent_keys.of_agent(agent_id)
        return {
            key_type: mask_secret(self._cipher.decrypt(ciphertext)) or ""
            for key_type, ciphertext in sorted(stored.items())
        }

    async def put_agent_keys(
        self, caller: Caller, agent_id: str, keys: dict[str, str | None]
    ) -> AgentView:
        """Set the given key types; a null or empty value removes that type."""
        async with self._uow() as uow:
            agent = await managed_agent(uow, caller, agent_id)
            for key_type, value in keys.items():
                if value:
                    await uow.agent_keys.put(agent_id, key_type, self._cipher.encrypt(value))
                else:
                    await uow.agent_keys.remove(agent_id, key_type)
            agent = replace(agent, updated_at=self._clock())
            await uow.agents.update(agent)
            await uow.commit()
        return self._agents.view(agent)

    # -- who pays -------------------------------------------------------------------------------

    async def key_chain(self, agent: Agent, running_user_id: str | None) -> list[tuple[str, str]]:
        """Every usable ``(provider, api_key)`` for a run of ``agent``, in the order to try.

        The agent's own key, then its per-agent keys, then wallet keys from ``user_key_ids``. A
        wallet key is personal: it is used only when its owner both created the agent and is
        the user the run acts for (the workflow's owner), and only while it is active, inside
        its schedule and for the agent's provider.
        """
        provider = agent.model_provider
        if provider in KEYLESS_PROVIDERS:
            return []
        now = self._clock()
        async with self._uow() as uow:
            per_agent = await uow.agent_keys.of_agent(agent.id)
            wallet: list[WalletKey] = []
            if running_user_id is not None and running_user_id == agent.created_by:
                for key_id in agent.user_key_ids:
                    key = await uow.wallet_keys.get(key_id)
                    if key is not None:
                        wallet.append(key)
        ciphertexts = [agent.api_key] if agent.api_key else []
        ciphertexts += [per_agent[t] for t in sorted(per_agent, key=_agent_key_rank)]
        ciphertexts += [
            k.ciphertext
            for k in wallet
            if k.user_id == running_user_id
            and k.provider == provider
            and k.is_active
            and schedule_allows(k.schedule_config, now)
        ]
        plains = dict.fromkeys(self._cipher.decrypt(c) for c in ciphertexts)
        return [(provider, plain) for plain in plains]

    async def resolve_key(
        self, agent: Agent, running_user_id: str | None
    ) -> tuple[str, str] | None:
        """The first usable key, or ``None``: the run then uses the offline provider."""
        chain = await self.key_chain(agent, running_user_id)
        return chain[0] if chain else None

    # -- rotation -------------------------------------------------------------------------------

    async def rotate(self) -> RotationReport:
        """Re-encrypt every stored secret not yet under the current key (after prepending one)."""
        counts = [0, 0, 0]
        async with self._uow() as uow:
            for agent in await uow.agents.with_secrets():
                fresh = replace(
                    agent,
                    api_key=self._fresh(agent.api_key),
                    external_token=self._fresh(agent.external_token),
                )
                if fresh != agent:
                    counts[0] += 1
                    await uow.agents.update(fresh)
            for agent_id, key_type, ciphertext in await uow.agent_keys.every():
                if not self._cipher.is_current(ciphertext):
                    counts[1] += 1
                    await uow.agent_keys.put(agent_id, key_type, self._cipher.rotate(ciphertext))
            for key in await uow.wallet_keys.every():
                if not self._cipher.is_current(key.ciphertext):
                    counts[2] += 1
                    await uow.wallet_keys.update(
                        replace(key, ciphertext=self._cipher.rotate(key.ciphertext))
                    )
            await uow.commit()
        return RotationReport(*counts)

    def _fresh(self, ciphertext: str | None) -> str | None:
        if ciphertext is None or self._cipher.is_current(ciphertext):
            return ciphertext
        return self._cipher.rotate(ciphertext)
