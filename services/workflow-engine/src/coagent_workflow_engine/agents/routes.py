"""Every agents route in one router, and the agents use cases wired over one storage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter

from coagent_workflow_engine.agents import (
    a2a_endpoints,
    catalog_endpoints,
    design,
    endpoints,
    wallet_endpoints,
)
from coagent_workflow_engine.agents.a2a import A2AService
from coagent_workflow_engine.agents.catalog import AgentTypeService, RoomAgentService
from coagent_workflow_engine.agents.crypto import KeyCipher
from coagent_workflow_engine.agents.endpoints import AgentsApi
from coagent_workflow_engine.agents.keys import KeyService
from coagent_workflow_engine.agents.ports import AgentsUnitOfWorkFactory
from coagent_workflow_engine.agents.service import AgentService

router = APIRouter()
for _part in (
    design.router,  # before ``POST /agents/{project_id}``: "generate" is not a project id
    endpoints.router,
    endpoints.versions_router,
    wallet_endpoints.router,
    catalog_endpoints.types_router,
    catalog_endpoints.rooms_router,
    a2a_endpoints.router,
):
    router.include_router(_part)


def build_agents_api(
    unit_of_work: AgentsUnitOfWorkFactory,
    cipher: KeyCipher,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AgentsApi:
    """The agents use cases; put the result on ``app.state.agents``."""
    agents = AgentService(unit_of_work, cipher, clock)
    return AgentsApi(
        agents=agents,
        keys=KeyService(unit_of_work, cipher, agents, clock),
        types=AgentTypeService(unit_of_work, clock),
        rooms=RoomAgentService(unit_of_work, clock),
        a2a=A2AService(unit_of_work, clock),
    )
