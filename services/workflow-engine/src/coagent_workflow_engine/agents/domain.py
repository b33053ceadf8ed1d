"""Agents, versions, types, room assignments and keys: pure types and rules (no I/O).

Authorisation lives here because the engine cannot see project or course memberships: what it
can decide on its own is ownership (``created_by``) and the platform role the gateway signed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from coagent_kit.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable

ModelProvider = Literal["gemini", "openai", "offline", "external"]
ContextStrategy = Literal["last_n", "all"]
ADMIN_ROLES = frozenset({"admin", "super_admin"})
#: Project-less agents the platform itself runs; only admins configure them.
SYSTEM_AGENT_TYPES = ("design", "analytics")
#: Fields snapshotted by a version and put back by a restore (keys are secrets: never versioned).
VERSIONED_FIELDS = (
    "system_prompt",
    "model_provider",
    "model",
    "settings",
    "context_window",
    "context_strategy",
    "trigger_config",
    "schedule_config",
)
#: Fields a template hands to its project copies on sync (the versioned ones; never the name).
SYNCED_FIELDS = VERSIONED_FIELDS


class AgentNotFound(NotFound):
    code = "agent_not_found"


class VersionNotFound(NotFound):
    code = "version_not_found"


class AgentTypeNotFound(NotFound):
    code = "agent_type_not_found"


class KeyNotFound(NotFound):
    code = "key_not_found"


class RoomAgentNotFound(NotFound):
    code = "room_agent_not_found"


class ParentNotFound(NotFound):
    code = "parent_not_found"


class AgentNameTaken(Conflict):
    code = "agent_name_taken"


class AgentTypeExists(Conflict):
    code = "agent_type_exists"


class KeyAliasTaken(Conflict):
    code = "key_alias_taken"


class AgentAlreadyAssigned(Conflict):
    code = "agent_already_assigned"


class SystemTypeProtected(BadRequest):
    code = "system_type"


class NotATemplate(BadRequest):
    code = "not_a_template"


class NoParentTemplate(BadRequest):
    code = "no_parent_template"


class InvalidUserKey(Unprocessable):
    code = "invalid_user_key"


class ExternalConfigRequired(Unprocessable):
    code = "external_config_required"


@dataclass(frozen=True)
class Caller:
    """Who is asking, as signed by the gateway."""

    user_id: str
    platform_role: str

    @property
    def is_admin(self) -> bool:
        return self.platform_role in ADMIN_ROLES


@dataclass(frozen=True)
class Agent:
    """One agent configuration. ``api_key`` and ``external_token`` hold ciphertext, never keys."""

    id: str
    name: str
    type: str
    system_prompt: str
    model_provider: ModelProvider
    model: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    is_active: bool = False
    context_window: int = 10
    context_strategy: ContextStrategy = "last_n"
    settings: dict[str, Any] = field(default_factory=dict)
    trigger_config: dict[str, Any] | None = None
    schedule_config: dict[str, Any] | None = None
    user_key_ids: tuple[str, ...] = ()
    is_external: bool = False
    external_config: dict[str, Any] | None = None
    project_id: str | None = None
    is_template: bool = False
    is_system: bool = False
    parent_config_id: str | None = None
    category: str = "instructor"
    capabilities: tuple[str, ...] = ()
    version: int = 1
    api_key: str | None = None
    external_token: str | None = None
    #: Hex SHA-256 of the A2A callback token an external agent posts with (never the token).
    callback_token_hash: str | None = None


@dataclass(frozen=True)
class AgentVersion:
    """An immutable snapshot of an agent's versioned fields; ``number`` counts from 1 per agent."""

    id: str
    agent_id: str
    number: int
    version_label: str
    system_prompt: str
    model_provider: ModelProvider
    model: str | None
    settings: dict[str, Any]
    context_window: int
    context_strategy: ContextStrategy
    trigger_config: dict[str, Any] | None
    schedule_config: dict[str, Any] | None
    created_by: str | None
    created_at: datetime


@dataclass(frozen=True)
class AgentType:
    """A kind of agent and the defaults a new agent of that kind starts from."""

    type_name: str
    display_name: str
    category: str
    id: str
    description: str | None = None
    icon: str | None = None
    color: str | None = None
    default_system_prompt: str | None = None
    default_model_provider: str = "gemini"
    default_model: str | None = None
    default_settings: dict[str, Any] = field(default_factory=dict)
    default_capabilities: tuple[str, ...] = ()
    is_system: bool = False
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class RoomAgent:
    """An agent assigned to a room, with the room's own reply settings and display order."""

    room_id: str
    agent_id: str
    is_active: bool
    position: int
    settings: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class WalletKey:
    """A provider key in a user's wallet; ``ciphertext`` is the encrypted key."""

    id: str
    user_id: str
    provider: str
    alias: str
    ciphertext: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    is_active: bool = True
    schedule_config: dict[str, Any] | None = None


# The seeded types: (type_name, display_name, category, id). Migration 0003 writes the same rows.
SYSTEM_TYPES = (
    ("teacher", "Teacher", "instructor", "4f1e4a52-6c0e-5b2a-9f6a-2f0c1d7b0001"),
    ("student", "Student", "participant", "4f1e4a52-6c0e-5b2a-9f6a-2f0c1d7b0002"),
    ("design", "Design", "utility", "4f1e4a52-6c0e-5b2a-9f6a-2f0c1d7b0003"),
    ("analytics", "Analytics", "utility", "4f1e4a52-6c0e-5b2a-9f6a-2f0c1d7b0004"),
)


def system_types() -> list[AgentType]:
    """The agent types every installation has."""
    return [
        AgentType(type_name=n, display_name=d, category=c, id=i, is_system=True)
        for n, d, c, i in SYSTEM_TYPES
    ]


def can_manage(caller: Caller, agent: Agent) -> bool:
    """Read and write: platform admins, and the creator of a non-system agent."""
    if caller.is_admin:
        return True
    return not agent.is_system and agent.created_by == caller.user_id


def can_use(caller: Caller, agent: Agent) -> bool:
    """Assign to a room: whoever manages it, or anyone for a shared template or system agent."""
    return can_manage(caller, agent) or agent.is_template or agent.is_system


def require_manage(caller: Caller, agent: Agent) -> None:
    """Raise ``Forbidden`` unless ``caller`` may read and write ``agent``."""
    if not can_manage(caller, agent):
        raise Forbidden("You may not manage this agent")


def can_create(caller: Caller) -> bool:
    """Guests look around; everyone else may keep agents of their own."""
    return caller.platform_role != "guest"


def mask_secret(plain: str | None) -> str | None:
    """``abc...wxyz``; short secrets are all stars so a mask never reveals most of a key."""
    if not plain:
        return None
    if len(plain) < 12:
        return "****"
    return f"{plain[:3]}...{plain[-4:]}"


def versioned_changed(before: Agent, after: Agent) -> bool:
    """Whether an edit touched anything a version records."""
    return any(getattr(before, f) != getattr(after, f) for f in VERSIONED_FIELDS)


def snapshot(
    agent: Agent, version_id: str, number: int, label: str, by: str | None, now: datetime
) -> AgentVersion:
    """The version ``number`` of ``agent`` as it is now."""
    return AgentVersion(
        id=version_id,
        agent_id=agent.id,
        number=number,
        version_label=label,
        system_prompt=agent.system_prompt,
        model_provider=agent.model_provider,
        model=agent.model,
        settings=dict(agent.settings),
        context_window=agent.context_window,
        context_strategy=agent.context_strategy,
        trigger_config=agent.trigger_config,
        schedule_config=agent.schedule_config,
        created_by=by,
        created_at=now,
    )


def restored(agent: Agent, version: AgentVersion, now: datetime) -> Agent:
    """``agent`` with every versioned field as ``version`` recorded it."""
    return replace(agent, **{f: getattr(version, f) for f in VERSIONED_FIELDS}, updated_at=now)


def synced(child: Agent, parent: Agent, now: datetime) -> Agent:
    """``child`` with its template's behaviour (its name, keys and activity are its own)."""
    return replace(child, **{f: getattr(parent, f) for f in SYNCED_FIELDS}, updated_at=now)


def hash_callback_token(token: str) -> str:
    """Hex SHA-256: a token is 256 random bits, so a plain hash suffices (no stretching)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_callback_token(agent: Agent) -> tuple[Agent, str | None]:
    """An external agent holding the hash of a fresh A2A token, and the token (shown once).

    Any other agent is returned as it is, with no token: only external agents post by webhook.
    """
    if not agent.is_external:
        return agent, None
    token = secrets.token_urlsafe(32)
    return replace(agent, callback_token_hash=hash_callback_token(token)), token


def callback_token_matches(stored_hash: str | None, token: str) -> bool:
    """Constant-time; no stored hash accepts no token (the reference then skipped the check)."""
    if stored_hash is None or not token:
        return False
    return hmac.compare_digest(stored_hash, hash_callback_token(token))


# -- what callers send and see --------------------------------------------------------------

#: Fields a client may set; everything else it sends back (id, created_by, …) is ignored.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "type",
        "system_prompt",
        "model_provider",
        "model",
        "is_active",
        "context_window",
        "context_strategy",
        "settings",
        "trigger_config",
        "schedule_config",
        "user_key_ids",
        "is_external",
        "external_config",
        "category",
        "capabilities",
    }
)


@dataclass(frozen=True)
class AgentInput:
    """Validated fields to set (only those given) and the write-only secrets.

    A secret is ``None`` to keep it, ``""`` to clear it, anything else to set it.
    """

    changes: dict[str, Any] = field(default_factory=dict)
    api_key: str | None = None
    external_token: str | None = None


@dataclass(frozen=True)
class AgentView:
    """An agent as callers see it: secrets masked, never decrypted beyond the mask."""

    agent: Agent
    masked_api_key: str | None
    has_external_token: bool
    #: The A2A callback token, only in the one response that issued it.
    callback_token: str | None = None
