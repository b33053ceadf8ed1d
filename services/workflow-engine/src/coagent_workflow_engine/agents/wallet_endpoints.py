"""The user key wallet: /api/v1/users/keys (reference shapes; the caller owns every key)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, StringConstraints

from coagent_kit.auth import Identity
from coagent_workflow_engine.agents.configs import ScheduleConfig, stored
from coagent_workflow_engine.agents.endpoints import Api, caller_of
from coagent_workflow_engine.agents.keys import WalletKeyView
from coagent_workflow_engine.agents.schemas import Slug

router = APIRouter(prefix="/api/v1/users/keys", tags=["llm-keys"])


class UserKeyCreate(BaseModel):
    """A key for the wallet; ``user_id`` is accepted for old clients and ignored (F15)."""

    model_config = ConfigDict(extra="ignore")

    provider: Slug
    alias: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    api_key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]
    description: Annotated[str, StringConstraints(max_length=1_000)] | None = None
    user_id: Any = None


class UserKeyRead(BaseModel):
    """A wallet key: ``masked_key`` is ``abc...wxyz`` at most (always the same format)."""

    id: str
    user_id: str
    provider: str
    alias: str
    description: str | None
    masked_key: str | None
    is_active: bool
    schedule_config: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: WalletKeyView) -> UserKeyRead:
        k = view.key
        return cls(
            id=k.id,
            user_id=k.user_id,
            provider=k.provider,
            alias=k.alias,
            description=k.description,
            masked_key=view.masked_key,
            is_active=k.is_active,
            schedule_config=k.schedule_config,
            created_at=k.created_at,
            updated_at=k.updated_at,
        )


class KeyScheduleUpdate(BaseModel):
    """Only the given fields change; an explicit null ``schedule_config`` removes the schedule."""

    is_active: bool | None = None
    schedule_config: ScheduleConfig | None = None


class KeyScheduleRead(BaseModel):
    message: str
    is_active: bool
    schedule_config: dict[str, Any] | None


@router.get("")
async def list_keys(identity: Identity, api: Api) -> list[UserKeyRead]:
    """The caller's keys, masked."""
    return [UserKeyRead.of(v) for v in await api.keys.wallet(caller_of(identity))]


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses={409: {"description": "key_alias_taken"}}
)
async def add_key(body: UserKeyCreate, identity: Identity, api: Api) -> UserKeyRead:
    """Store a key for the caller (encrypted at rest)."""
    view = await api.keys.add_to_wallet(
        caller_of(identity), body.provider, body.alias, body.api_key, body.description
    )
    return UserKeyRead.of(view)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "key_not_found (also someone else's key)"}},
)
async def delete_key(key_id: uuid.UUID, identity: Identity, api: Api) -> Response:
    """Delete one of the caller's keys."""
    await api.keys.delete_from_wallet(caller_of(identity), str(key_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{key_id}/schedule", responses={404: {"description": "key_not_found"}})
async def schedule_key(
    key_id: uuid.UUID, body: KeyScheduleUpdate, identity: Identity, api: Api
) -> KeyScheduleRead:
    """When the key may be used (validated shape) and whether it is on at all."""
    changes: dict[str, Any] = {}
    if "is_active" in body.model_fields_set and body.is_active is not None:
        changes["is_active"] = body.is_active
    if "schedule_config" in body.model_fields_set:
        changes["schedule_config"] = stored(body.schedule_config)
    view = await api.keys.schedule(caller_of(identity), str(key_id), changes)
    return KeyScheduleRead(
        message="Schedule updated",
        is_active=view.key.is_active,
        schedule_config=view.key.schedule_config,
    )
