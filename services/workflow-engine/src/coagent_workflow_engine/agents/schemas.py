"""HTTP shapes of the agents API (the reference client's field names; secrets only go in)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, field_validator

from coagent_workflow_engine.agents.configs import ScheduleConfig, TriggerConfig, stored
from coagent_workflow_engine.agents.domain import (
    EDITABLE_FIELDS,
    AgentInput,
    AgentType,
    AgentVersion,
    AgentView,
    ContextStrategy,
    ModelProvider,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
#: Fields where an explicit null means "no value"; for the others null means "keep".
NULLABLE_FIELDS = frozenset({"model", "trigger_config", "schedule_config", "external_config"})
FALLBACK_MESSAGE = "⚠️ External agent is temporarily unavailable."


class ExternalConfigIn(BaseModel):
    """Where an external agent lives; ``auth_token`` is write-only (null keeps, "" clears)."""

    model_config = ConfigDict(extra="ignore")

    webhook_url: Annotated[str, StringConstraints(max_length=2048)]
    auth_type: Literal["none", "bearer"] = "none"
    auth_token: str | None = None
    timeout_ms: int = Field(default=30_000, ge=1_000, le=120_000)
    fallback_message: str = Field(default=FALLBACK_MESSAGE, max_length=2_000)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class AgentWrite(BaseModel):
    """Create or edit an agent. Every field is optional: an edit changes only what is given.

    Unknown and read-only fields (``id``, ``created_by``, ``masked_api_key`` …) are ignored, so
    the client can send back the whole object it read. ``api_key``: a value sets it, null or
    absent keeps it; ``""`` keeps it too (the web client's "My agents" form sends ``""`` for
    "unchanged"), except on ``/agents/system/{type}``, whose form sends ``""`` to clear.
    ``clear_api_key: true`` removes the key everywhere.
    """

    model_config = ConfigDict(extra="ignore")

    name: Name | None = None
    type: Slug | None = None
    system_prompt: Annotated[str, StringConstraints(max_length=100_000)] | None = None
    model_provider: ModelProvider | None = None
    model: Annotated[str, StringConstraints(max_length=200)] | None = None
    is_active: bool | None = None
    context_window: int | None = Field(default=None, ge=1, le=200)
    context_strategy: ContextStrategy | None = None
    settings: dict[str, Any] | None = None
    trigger_config: TriggerConfig | None = None
    schedule_config: ScheduleConfig | None = None
    user_key_ids: list[uuid.UUID] | None = None
    is_external: bool | None = None
    external_config: ExternalConfigIn | None = None
    category: Slug | None = None
    capabilities: list[Annotated[str, StringConstraints(max_length=100)]] | None = None
    api_key: Annotated[str, StringConstraints(max_length=4096)] | None = None
    clear_api_key: bool = False

    def to_input(self, *, empty_key_clears: bool = False) -> AgentInput:
        """The given fields as domain values, with the secrets split out."""
        changes: dict[str, Any] = {}
        external_token: str | None = None
        for name in sorted(EDITABLE_FIELDS & self.model_fields_set):
            value = getattr(self, name)
            if value is None and name not in NULLABLE_FIELDS:
                continue
            if name in ("trigger_config", "schedule_config"):
                value = stored(value)
            elif name == "user_key_ids":
                value = [str(key_id) for key_id in value]
            elif name == "external_config" and value is not None:
                external_token = "" if value.auth_type == "none" else value.auth_token
                value = value.model_dump(exclude={"auth_token"})
            changes[name] = value
        if changes.get("external_config", ...) is None:
            external_token = ""
        api_key = self.api_key if self.api_key or empty_key_clears else None
        if self.clear_api_key:
            api_key = ""  # the domain's "remove the key"
        return AgentInput(changes, api_key=api_key, external_token=external_token)


class AgentRead(BaseModel):
    """An agent; ``masked_api_key`` is ``abc...wxyz`` at most, never the key."""

    id: str
    project_id: str | None
    type: str
    name: str
    model_provider: str
    model: str | None
    system_prompt: str
    settings: dict[str, Any]
    trigger_config: dict[str, Any] | None
    schedule_config: dict[str, Any] | None
    context_window: int
    context_strategy: str
    is_active: bool
    parent_config_id: str | None
    is_template: bool
    is_system: bool
    category: str
    is_external: bool
    external_config: dict[str, Any] | None
    capabilities: list[str]
    user_key_ids: list[str]
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    masked_api_key: str | None
    has_api_key: bool
    version: int
    has_callback_token: bool = False
    #: The external agent's A2A token: only in the response that issued it, then never again.
    callback_token: str | None = None

    @classmethod
    def of(cls, view: AgentView) -> AgentRead:
        """The HTTP view of an agent."""
        a = view.agent
        external = None
        if a.external_config is not None:
            external = {**a.external_config, "has_auth_token": view.has_external_token}
        return cls(
            id=a.id,
            project_id=a.project_id,
            type=a.type,
            name=a.name,
            model_provider=a.model_provider,
            model=a.model,
            system_prompt=a.system_prompt,
            settings=a.settings,
            trigger_config=a.trigger_config,
            schedule_config=a.schedule_config,
            context_window=a.context_window,
            context_strategy=a.context_strategy,
            is_active=a.is_active,
            parent_config_id=a.parent_config_id,
            is_template=a.is_template,
            is_system=a.is_system,
            category=a.category,
            is_external=a.is_external,
            external_config=external,
            capabilities=list(a.capabilities),
            user_key_ids=list(a.user_key_ids),
            created_by=a.created_by,
            created_at=a.created_at,
            updated_at=a.updated_at,
            masked_api_key=view.masked_api_key,
            has_api_key=a.api_key is not None,
            version=a.version,
            has_callback_token=a.callback_token_hash is not None,
            callback_token=view.callback_token,
        )


class AgentSummaryRead(BaseModel):
    """What anyone may know of an agent: enough to name it and pick it."""

    id: str
    name: str
    type: str
    is_system: bool
    is_active: bool


class VersionCreate(BaseModel):
    version_label: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]


class VersionRead(BaseModel):
    """An immutable version; ``number`` counts from 1 per agent."""

    id: str
    config_id: str
    number: int
    version_label: str
    system_prompt: str
    model_provider: str
    model: str | None
    settings: dict[str, Any]
    context_window: int
    context_strategy: str
    trigger_config: dict[str, Any] | None
    schedule_config: dict[str, Any] | None
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, v: AgentVersion) -> VersionRead:
        """The HTTP view of a version."""
        return cls(
            id=v.id,
            config_id=v.agent_id,
            number=v.number,
            version_label=v.version_label,
            system_prompt=v.system_prompt,
            model_provider=v.model_provider,
            model=v.model,
            settings=v.settings,
            context_window=v.context_window,
            context_strategy=v.context_strategy,
            trigger_config=v.trigger_config,
            schedule_config=v.schedule_config,
            created_by=v.created_by,
            created_at=v.created_at,
        )


Category = Literal["instructor", "participant", "utility", "external"]


class AgentTypeCreate(BaseModel):
    type_name: Slug
    display_name: Name
    description: Annotated[str, StringConstraints(max_length=2_000)] | None = None
    category: Category = "instructor"
    icon: Annotated[str, StringConstraints(max_length=100)] | None = None
    color: Annotated[str, StringConstraints(max_length=32)] | None = None
    default_system_prompt: Annotated[str, StringConstraints(max_length=100_000)] | None = None
    default_model_provider: ModelProvider = "gemini"
    default_model: Annotated[str, StringConstraints(max_length=200)] | None = None
    default_settings: dict[str, Any] = Field(default_factory=dict)
    default_capabilities: list[Annotated[str, StringConstraints(max_length=100)]] = Field(
        default_factory=list
    )

    def fields(self) -> dict[str, Any]:
        """Keyword arguments for the domain type."""
        data = self.model_dump()
        data["default_capabilities"] = tuple(data["default_capabilities"])
        return data


class AgentTypeRead(BaseModel):
    id: str
    type_name: str
    display_name: str
    description: str | None
    category: str
    icon: str | None
    color: str | None
    default_system_prompt: str | None
    default_model_provider: str
    default_model: str | None
    default_settings: dict[str, Any]
    default_capabilities: list[str]
    is_system: bool

    @classmethod
    def of(cls, t: AgentType) -> AgentTypeRead:
        """The HTTP view of an agent type."""
        return cls(
            id=t.id,
            type_name=t.type_name,
            display_name=t.display_name,
            description=t.description,
            category=t.category,
            icon=t.icon,
            color=t.color,
            default_system_prompt=t.default_system_prompt,
            default_model_provider=t.default_model_provider,
            default_model=t.default_model,
            default_settings=t.default_settings,
            default_capabilities=list(t.default_capabilities),
            is_system=t.is_system,
        )


class AgentKeysUpdate(
    RootModel[dict[Slug, Annotated[str, StringConstraints(max_length=4096)] | None]]
):
    """``{key_type: key}``; null or "" removes that key type."""
