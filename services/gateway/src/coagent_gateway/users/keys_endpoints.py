"""Personal API keys (``/api/v1/users/me/api-keys``), the audit log and avatar files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from coagent_gateway.auth.api_keys import ApiKeyService
from coagent_gateway.auth.dependencies import CurrentUser, api_key_used, client_ip
from coagent_gateway.users.avatars import OUTPUT_CONTENT_TYPE
from coagent_gateway.users.endpoints import Users
from coagent_gateway.users.ports import AvatarStore
from coagent_gateway.users.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, AuditEntryRead
from coagent_kit.errors import Forbidden, NotFound

router = APIRouter(prefix="/api/v1", tags=["api-keys", "audit"])
static_router = APIRouter(tags=["static"])
CONTENT_TYPES = {"png": OUTPUT_CONTENT_TYPE, "webp": "image/webp"}


def api_key_service(request: Request) -> ApiKeyService:
    """The app's :class:`ApiKeyService`."""
    service: ApiKeyService = request.app.state.api_keys
    return service


def avatar_store(request: Request) -> AvatarStore:
    """The app's avatar storage."""
    store: AvatarStore = request.app.state.avatars
    return store


Keys = Annotated[ApiKeyService, Depends(api_key_service)]
Avatars = Annotated[AvatarStore, Depends(avatar_store)]


@router.get("/users/me/api-keys")
async def list_api_keys(me: CurrentUser, keys: Keys) -> list[ApiKeyRead]:
    """The caller's live keys, masked."""
    return [ApiKeyRead.of(k) for k in await keys.list(me)]


@router.post("/users/me/api-keys", status_code=201)
async def create_api_key(
    body: ApiKeyCreate, request: Request, me: CurrentUser, keys: Keys
) -> ApiKeyCreated:
    """A new key, shown in this response only. Needs a login session, not another key."""
    if api_key_used(request) is not None:
        raise Forbidden("API keys are created from a login session", code="session_required")
    issued = await keys.create(me, body.name, body.scopes, body.expires_in_days, client_ip(request))
    return ApiKeyCreated(**ApiKeyRead.of(issued.key).model_dump(), key=issued.secret)


@router.delete("/users/me/api-keys/{key_id}", status_code=204)
async def revoke_api_key(key_id: str, request: Request, me: CurrentUser, keys: Keys) -> None:
    """Revoke one of the caller's keys (404 for anyone else's)."""
    await keys.revoke(me, key_id, client_ip(request))


@router.get("/admin/audit-log")
async def read_audit_log(
    me: CurrentUser,
    users: Users,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        str | None, Query(max_length=64, description="id of the last entry seen")
    ] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[AuditEntryRead]:
    """Audit entries, newest first (admins); page with ``before=<id of the last entry>``."""
    entries = await users.audit_log(me, limit, before, action, actor_id)
    return [AuditEntryRead.of(e) for e in entries]


@static_router.get("/static/avatars/{name}", include_in_schema=False)
async def avatar_file(name: str, avatars: Avatars) -> FileResponse:
    """A stored avatar, always with a fixed image type that browsers will not sniff."""
    path = avatars.path_of(name)
    if path is None:
        raise NotFound("Avatar not found", code="avatar_not_found")
    return FileResponse(
        path,
        media_type=CONTENT_TYPES[path.suffix.lstrip(".")],
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "public, max-age=86400, immutable",
        },
    )
