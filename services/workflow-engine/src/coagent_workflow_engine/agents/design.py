"""``POST /api/v1/agents/generate``: the design agent writes a system prompt for a new agent.

The reference answered with the provider's error text when a key failed; here a failing key is
a clear 400 and an unreachable provider a 502, and with no key at all the offline model writes a
deterministic draft (marked ``offline``) so the editor keeps working without a provider.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from coagent_kit.auth import Identity
from coagent_kit.errors import BadRequest, Forbidden, ServiceError
from coagent_workflow_engine.agents.domain import Caller
from coagent_workflow_engine.agents.endpoints import AgentsApi, caller_of
from coagent_workflow_engine.llm import (
    AuthenticationFailed,
    ChatMessage,
    ChatRequest,
    LLMError,
    model_for,
)
from coagent_workflow_engine.llm import BadRequest as UnusableModel

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])

#: Who may ask the design agent (the reference's rule): course authors and admins.
DESIGNERS = frozenset({"teacher", "admin", "super_admin"})
DEFAULT_DESIGN_PROMPT = (
    "You design system prompts for AI agents that take part in a course's chat rooms. Given the "
    "requirement, the agent's type and the course context, write one complete system prompt: "
    "the agent's role, its goals, how it speaks, what it must never do, and when to stay silent."
)
Text = Annotated[str, StringConstraints(max_length=20_000)]
Name = Annotated[str, StringConstraints(max_length=100)]


class DesignRequest(BaseModel):
    """What the web client's "generate with AI" form sends (unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    requirement: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]
    target_agent_type: Name
    course_context: Text = ""
    provider: Name = "gemini"
    api_key: Text | None = None
    custom_system_prompt: Text | None = None
    custom_api_key: Text | None = None
    custom_provider: Name | None = None
    custom_model: Name | None = None


class DesignResult(BaseModel):
    """The generated prompt (the client reads ``generated_prompt``) and who wrote it."""

    generated_prompt: str
    provider: str
    model: str
    offline: bool


def _api(request: Request) -> AgentsApi:
    api: AgentsApi = request.app.state.agents
    return api


async def _system_design(api: AgentsApi, caller: Caller) -> tuple[str, tuple[str, str] | None]:
    """The stored design agent's prompt, and its key for admins only (it is an admin's key)."""
    design = next((a for a in await api.agents.system() if a.type == "design"), None)
    if design is None:
        return DEFAULT_DESIGN_PROMPT, None
    key = await api.keys.resolve_key(design, caller.user_id) if caller.is_admin else None
    return design.system_prompt or DEFAULT_DESIGN_PROMPT, key


@router.post("/generate")
async def generate_prompt(
    body: DesignRequest, identity: Identity, request: Request
) -> DesignResult:
    """A system prompt for a new agent of ``target_agent_type``."""
    caller = caller_of(identity)
    if caller.platform_role not in DESIGNERS:
        raise Forbidden("Only teachers and admins may use the design agent", code="forbidden")
    if not body.requirement:
        raise BadRequest("Describe what the agent should do", code="requirement_missing")
    prompt, stored_key = await _system_design(_api(request), caller)
    provider, model, key = body.provider, None, body.api_key
    if body.custom_api_key:
        provider = body.custom_provider or body.provider
        model, key = body.custom_model, body.custom_api_key
    elif not key and stored_key is not None:
        provider, key = stored_key
    try:
        chat = model_for(provider, model, key, None, tenant_id=caller.user_id)
    except UnusableModel as exc:  # an unknown provider name: the caller's mistake
        raise BadRequest(exc.detail, code="unknown_provider") from exc
    request_text = (
        f"Agent type: {body.target_agent_type}\nRequirement: {body.requirement}\n"
        f"Course context: {body.course_context or '(none)'}"
    )
    messages = [
        ChatMessage(role="system", content=body.custom_system_prompt or prompt),
        ChatMessage(role="user", content=request_text),
    ]
    try:
        completion = await chat.complete(ChatRequest(messages=messages))
    except AuthenticationFailed as exc:
        raise BadRequest("Invalid API Key provided.", code="invalid_api_key") from exc
    except LLMError as exc:
        raise ServiceError(
            f"The model provider did not answer: {exc}", code="llm_unavailable", status=502
        ) from exc
    return DesignResult(
        generated_prompt=completion.text,
        provider=completion.provider,
        model=completion.model,
        offline=completion.offline,
    )
