"""The workflow engine's LLM layer: one ``ChatModel`` port, provider adapters, resilience, cost.

Import from here; the submodules are implementation detail. See ``ports`` for the API.
"""

from coagent_workflow_engine.llm.errors import (
    AuthenticationFailed,
    BadRequest,
    Cancelled,
    CircuitOpen,
    InvalidOutput,
    LLMError,
    ProviderUnavailable,
    RateLimited,
)
from coagent_workflow_engine.llm.factory import DEFAULT_MODELS, canonical_provider, model_for
from coagent_workflow_engine.llm.metering import MeteredChatModel
from coagent_workflow_engine.llm.offline import OfflineChatModel
from coagent_workflow_engine.llm.ports import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    Completion,
    Delta,
    Usage,
    collect,
)
from coagent_workflow_engine.llm.pricing import LLMCallRecord, RunTotals, UsageLedger, cost_of
from coagent_workflow_engine.llm.resilience import (
    BreakerRegistry,
    CircuitBreaker,
    ResilientChatModel,
    RetryPolicy,
    key_fingerprint,
)

__all__ = [
    "DEFAULT_MODELS",
    "AuthenticationFailed",
    "BadRequest",
    "BreakerRegistry",
    "Cancelled",
    "ChatMessage",
    "ChatModel",
    "ChatRequest",
    "CircuitBreaker",
    "CircuitOpen",
    "Completion",
    "Delta",
    "InvalidOutput",
    "LLMCallRecord",
    "LLMError",
    "MeteredChatModel",
    "OfflineChatModel",
    "ProviderUnavailable",
    "RateLimited",
    "ResilientChatModel",
    "RetryPolicy",
    "RunTotals",
    "Usage",
    "UsageLedger",
    "canonical_provider",
    "collect",
    "cost_of",
    "key_fingerprint",
    "model_for",
]
