"""The /api/v1/agents and /api/v1/agent-config routes (forwarded by the gateway as they are).

Literal segments are declared before the ``{id}`` routes and every id is a UUID, so
``/agents/system``, ``/agents/global`` and ``/agents/global/list`` can never be taken for an id
(the reference's route shadowing, F14). One agent is read at ``GET /agents/detail/{config_id}``
because ``GET /agents/{uuid}`` lists a project's agents.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response, status

from coagent_kit.auth import Identity, InternalIdentity
from coagent_workflow_engine.agents.a2a import A2AService
from coagent_workflow_engine.agents.catalog import AgentTypeService, RoomAgentService
from coagent_workflow_engine.agents.domain import Caller
from coagent_workflow_engine.agents.keys import KeyService
from coagent_workflow_engine.agents.schemas import (
    AgentKeysUpdate,
    AgentRead,
    AgentSummaryRead,
    AgentWrite,
    VersionCreate,
    VersionRead,
)
from coagent_workflow_engine.agents.service import AgentService


@dataclass(frozen=True)
class AgentsApi:
    """The agents use cases, kept on ``app.state.agents``."""

    agents: AgentService
    keys: KeyService
    types: AgentTypeService
    rooms: RoomAgentService
    a2a: A2AService


def _api(request: Request) -> AgentsApi:
    api: AgentsApi = request.app.state.agents
    return api


Api = Annotated[AgentsApi, Depends(_api)]


def caller_of(identity: InternalIdentity) -> Caller:
    """The domain's view of the signed identity."""
    return Caller(identity.user_id, identity.platform_role)


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "agent_not_found"},
    403: {"description": "forbidden"},
}
router = APIRouter(prefix="/api/v1/agents", tags=["agents"], responses=NOT_FOUND)
versions_router = APIRouter(prefix="/api/v1/agent-config", tags=["agents"], responses=NOT_FOUND)

# -- literal paths first ------------------------------------------------------------------------


@router.get("/system")
async def system_agents(identity: Identity, api: Api) -> list[AgentRead] | list[AgentSummaryRead]:
    """The system agents: masked configs for admins, names and types for everyone else."""
    agents = await api.agents.system()
    if caller_of(identity).is_admin:
        return [AgentRead.of(api.agents.view(a)) for a in agents]
    return [
        AgentSummaryRead(id=a.id, name=a.name, type=a.type, is_system=True, is_active=a.is_active)
        for a in agents
    ]


@router.put("/system/{agent_type}")
async def put_system_agent(
    agent_type: Literal["design", "analytics"], body: AgentWrite, identity: Identity, api: Api
) -> AgentRead:
    """Create or edit a system agent (admins; 403 ``forbidden`` otherwise)."""
    view = await api.agents.put_system(
        caller_of(identity), agent_type, body.to_input(empty_key_clears=True)
    )
    return AgentRead.of(view)


@router.get("/global/list")
async def my_templates(identity: Identity, api: Api) -> list[AgentRead]:
    """The caller's own templates ("My Agents")."""
    return [AgentRead.of(v) for v in await api.agents.templates(caller_of(identity))]


@router.post("/global", status_code=status.HTTP_201_CREATED)
async def create_template(body: AgentWrite, identity: Identity, api: Api) -> AgentRead:
    """A template owned by the caller (``project_id`` null)."""
    view = await api.agents.create(caller_of(identity), body.to_input(), None, template=True)
    return AgentRead.of(view)


@router.post(
    "/global/{agent_id}/clone-to-project/{project_id}", status_code=status.HTTP_201_CREATED
)
async def clone_to_project(
    agent_id: uuid.UUID, project_id: uuid.UUID, identity: Identity, api: Api
) -> AgentRead:
    """A project copy of one of the caller's templates (400 ``not_a_template``)."""
    caller = caller_of(identity)
    return AgentRead.of(await api.agents.clone_to_project(caller, str(agent_id), str(project_id)))


@router.get("/detail/{config_id}")
async def get_agent(config_id: uuid.UUID, identity: Identity, api: Api) -> AgentRead:
    """One agent the caller may manage."""
    return AgentRead.of(await api.agents.get(caller_of(identity), str(config_id)))


# -- id paths -----------------------------------------------------------------------------------


@router.get("/{project_id}")
async def project_agents(project_id: uuid.UUID, identity: Identity, api: Api) -> list[AgentRead]:
    """The project's agents the caller may read (their own; every one for admins)."""
    return [
        AgentRead.of(v) for v in await api.agents.in_project(caller_of(identity), str(project_id))
    ]


@router.post("/{project_id}", status_code=status.HTTP_201_CREATED)
async def create_project_agent(
    project_id: uuid.UUID, body: AgentWrite, identity: Identity, api: Api
) -> AgentRead:
    """An agent of the project (409 ``agent_name_taken`` for a duplicate name and type)."""
    caller = caller_of(identity)
    view = await api.agents.create(caller, body.to_input(), str(project_id), template=False)
    return AgentRead.of(view)


@router.put("/{config_id}")
async def update_agent(
    config_id: uuid.UUID, body: AgentWrite, identity: Identity, api: Api
) -> AgentRead:
    """Change the given fields; the whole object read earlier may be sent back as it is."""
    view = await api.agents.update(caller_of(identity), str(config_id), body.to_input())
    return AgentRead.of(view)


@router.put("/{config_id}/activate")
async def activate_agent(config_id: uuid.UUID, identity: Identity, api: Api) -> AgentRead:
    """Make this the active agent of its type in its project."""
    return AgentRead.of(await api.agents.activate(caller_of(identity), str(config_id)))


@router.delete("/{config_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(config_id: uuid.UUID, identity: Identity, api: Api) -> Response:
    """Delete the agent, its versions, its keys and its room assignments."""
    await api.agents.delete(caller_of(identity), str(config_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{agent_id}/keys")
async def agent_keys(agent_id: uuid.UUID, identity: Identity, api: Api) -> dict[str, str]:
    """``{key_type: masked key}``."""
    return await api.keys.agent_keys(caller_of(identity), str(agent_id))


@router.put("/{agent_id}/keys")
async def put_agent_keys(
    agent_id: uuid.UUID, body: AgentKeysUpdate, identity: Identity, api: Api
) -> AgentRead:
    """Set key types; a null or empty value removes one."""
    view = await api.keys.put_agent_keys(caller_of(identity), str(agent_id), body.root)
    return AgentRead.of(view)


@router.post(
    "/{agent_id}/callback-token",
    responses={400: {"description": "not_external"}},
)
async def rotate_callback_token(
    agent_id: uuid.UUID, identity: Identity, api: Api
) -> dict[str, str]:
    """A new A2A token for an external agent (creator or admin); the old one stops working.

    The token is in this response only: the engine keeps nothing but its SHA-256 hash.
    """
    token = await api.a2a.rotate(caller_of(identity), str(agent_id))
    return {"agent_id": str(agent_id), "callback_token": token}


@router.post("/{config_id}/sync-from-parent")
async def sync_from_parent(config_id: uuid.UUID, identity: Identity, api: Api) -> AgentRead:
    """Copy the template's behaviour (400 ``no_parent_template``, 404 ``parent_not_found``)."""
    return AgentRead.of(await api.agents.sync_from_parent(caller_of(identity), str(config_id)))


# -- versions -----------------------------------------------------------------------------------


@versions_router.post("/{config_id}/versions", status_code=status.HTTP_201_CREATED)
async def create_version(
    config_id: uuid.UUID, body: VersionCreate, identity: Identity, api: Api
) -> VersionRead:
    """A labelled snapshot of the agent as it is now."""
    caller = caller_of(identity)
    return VersionRead.of(
        await api.agents.create_version(caller, str(config_id), body.version_label)
    )


@versions_router.get("/{config_id}/versions")
async def list_versions(config_id: uuid.UUID, identity: Identity, api: Api) -> list[VersionRead]:
    """Newest first."""
    return [
        VersionRead.of(v) for v in await api.agents.versions(caller_of(identity), str(config_id))
    ]


@versions_router.post(
    "/{config_id}/versions/{version_id}/restore",
    responses={404: {"description": "agent_not_found or version_not_found"}},
)
async def restore_version(
    config_id: uuid.UUID, version_id: uuid.UUID, identity: Identity, api: Api
) -> AgentRead:
    """Put back every versioned field (recorded as a new version)."""
    caller = caller_of(identity)
    return AgentRead.of(await api.agents.restore(caller, str(config_id), str(version_id)))
