"""Builds the ``ChatModel`` an agent config asks for.

No key means the offline provider (``make run`` and tests work with no configuration), except for
an OpenAI-compatible ``base_url``: local servers (Ollama, vLLM, llama.cpp) need no key, so they get
a placeholder one. Real providers are wrapped in retries + the breaker of their
(tenant, provider, key); the outermost wrapper meters usage when a ledger is given.
"""

from __future__ import annotations

import httpx
import httpx2

from coagent_workflow_engine.llm.errors import BadRequest
from coagent_workflow_engine.llm.google_adapter import DEFAULT_GOOGLE_MODEL, GoogleChatModel
from coagent_workflow_engine.llm.metering import MeteredChatModel
from coagent_workflow_engine.llm.offline import OFFLINE_MODEL, OfflineChatModel
from coagent_workflow_engine.llm.openai_adapter import DEFAULT_OPENAI_MODEL, OpenAIChatModel
from coagent_workflow_engine.llm.ports import ChatModel
from coagent_workflow_engine.llm.pricing import UsageLedger
from coagent_workflow_engine.llm.resilience import (
    DEFAULT_BREAKERS,
    BreakerRegistry,
    ResilientChatModel,
    RetryPolicy,
)

#: Provider names accepted in agent configs (the reference used ``gemini`` and ``openai``).
PROVIDER_ALIASES = {
    "openai": "openai",
    "openai-compatible": "openai",
    "google": "google",
    "gemini": "google",
    "google-genai": "google",
    "offline": "offline",
}
DEFAULT_MODELS = {
    "openai": DEFAULT_OPENAI_MODEL,
    "google": DEFAULT_GOOGLE_MODEL,
    "offline": OFFLINE_MODEL,
}
KEYLESS_PLACEHOLDER = "not-needed"


def canonical_provider(provider: str) -> str:
    """``gemini`` → ``google`` etc.; an unknown name is a configuration error."""
    name = PROVIDER_ALIASES.get(provider.strip().lower())
    if name is None:
        raise BadRequest(
            f"unknown LLM provider {provider!r}; expected one of {sorted(PROVIDER_ALIASES)}"
        )
    return name


def model_for(
    provider: str,
    model: str | None,
    api_key: str | None,
    base_url: str | None,
    tenant_id: str,
    *,
    breakers: BreakerRegistry | None = None,
    retry: RetryPolicy | None = None,
    ledger: UsageLedger | None = None,
    run_id: str | None = None,
    http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
) -> ChatModel:
    """The model for one agent call site. ``http_client`` is for tests and custom transports
    (the OpenAI SDK needs an ``httpx2`` client; google-genai takes either)."""
    name = canonical_provider(provider)
    key = api_key or None
    built: ChatModel
    if name == "offline" or (key is None and not (name == "openai" and base_url)):
        built = OfflineChatModel(model if name == "offline" else None)
    else:
        inner: ChatModel
        if name == "openai":
            if http_client is not None and not isinstance(http_client, httpx2.AsyncClient):
                raise TypeError("the OpenAI SDK needs an httpx2.AsyncClient")
            inner = OpenAIChatModel(
                api_key=key or KEYLESS_PLACEHOLDER,
                base_url=base_url,
                model=model,
                http_client=http_client,
            )
        else:
            inner = GoogleChatModel(api_key=key or "", model=model, http_client=http_client)
        # Keyless compatible servers are told apart by URL, so two local servers of one tenant
        # never share a breaker.
        identity = key if key is not None else f"keyless:{base_url}"
        breaker = (breakers or DEFAULT_BREAKERS).get(tenant_id, name, identity)
        built = ResilientChatModel(inner, breaker, policy=retry)
    if ledger is not None:
        built = MeteredChatModel(built, ledger, tenant_id=tenant_id, run_id=run_id)
    return built
