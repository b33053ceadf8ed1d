"""The one port every LLM provider implements, and the value types that cross it.

Agents, routers and the run loop depend on ``ChatModel`` only. Adapters (OpenAI-compatible,
Google GenAI, offline) and wrappers (retries + circuit breaker, metering) all implement it, so
they compose: ``Metered(Resilient(OpenAIChatModel(...)))`` is still a ``ChatModel``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]
SchemaT = TypeVar("SchemaT", bound=BaseModel)


class ChatMessage(BaseModel):
    """One turn of the conversation. ``name`` tells participants of a multi-agent room apart."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str
    name: str | None = None


class ChatRequest(BaseModel):
    """A provider-neutral chat call. ``model=None`` means the adapter's default model."""

    model_config = ConfigDict(frozen=True)

    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    #: Per-call timeout in seconds (the provider client's own timeout when ``None``).
    timeout: float | None = Field(default=None, gt=0.0)

    def last_user_text(self) -> str:
        """The newest user message (what the offline provider and logs quote)."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return self.messages[-1].content


class Usage(BaseModel):
    """Token counts of one call. ``estimated`` when the provider did not report them."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False

    @classmethod
    def of(cls, prompt: int, completion: int, *, estimated: bool = False) -> Usage:
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            estimated=estimated,
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            estimated=self.estimated or other.estimated,
        )


class Completion(BaseModel):
    """The outcome of a successful call. Failures are exceptions (``llm.errors``), never text."""

    model_config = ConfigDict(frozen=True)

    text: str
    usage: Usage
    cost_usd: float = 0.0
    #: False when the model has no entry in the price table (cost recorded as 0).
    priced: bool = True
    provider: str
    model: str
    offline: bool = False
    finish_reason: str | None = None

    def metadata(self) -> dict[str, object]:
        """What a reply posted to a room carries, so offline answers are always labelled."""
        return {
            "llm_provider": self.provider,
            "llm_model": self.model,
            "offline": self.offline,
            "usage": self.usage.model_dump(),
            "cost_usd": self.cost_usd,
        }


class Delta(BaseModel):
    """One streamed piece. The last item of every stream has ``completion`` set and no text."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    completion: Completion | None = None


@runtime_checkable
class ChatModel(Protocol):
    """A chat model bound to one provider, one key and one tenant."""

    @property
    def provider(self) -> str:
        """``openai``, ``google`` or ``offline`` (compatible servers report ``openai``)."""
        ...

    @property
    def default_model(self) -> str:
        """The model used when a request leaves ``model`` unset."""
        ...

    async def complete(self, request: ChatRequest) -> Completion:
        """One reply, whole."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Text deltas as they arrive, then one final ``Delta`` carrying the ``Completion``."""
        ...

    async def structured(
        self, request: ChatRequest, schema: type[SchemaT]
    ) -> tuple[SchemaT, Usage]:
        """A validated instance of ``schema`` (schema repair rounds included in ``Usage``)."""
        ...


async def collect(stream: AsyncIterator[Delta]) -> Completion:
    """Drain a stream and return its final ``Completion`` (text equals the concatenated deltas)."""
    final: Completion | None = None
    async for delta in stream:
        if delta.completion is not None:
            final = delta.completion
    if final is None:
        raise RuntimeError("stream ended without a final completion")
    return final
