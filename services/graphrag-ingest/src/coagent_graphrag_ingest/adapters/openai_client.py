"""The instructor client and the structured call every model-backed ingest port shares.

Official OpenAI gets tool calling; other OpenAI-compatible endpoints (vLLM, Ollama, LM Studio …)
get plain JSON mode, which more of them support. instructor re-asks with the validation error
(schema repair); the SDK itself retries a failed request once.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

import httpx2
import instructor
from openai import AsyncOpenAI
from pydantic import BaseModel

Reply = TypeVar("Reply", bound=BaseModel)


class ModelCallFailed(RuntimeError):
    """The model gave no valid answer (after repair) or could not be reached."""


def structured_client(
    *,
    api_key: str,
    base_url: str | None,
    timeout_s: float,
    http_client: httpx2.AsyncClient | None,
) -> instructor.AsyncInstructor:
    """An instructor client over an OpenAI-compatible chat-completions endpoint."""
    client = AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        max_retries=1,
        timeout=timeout_s,
        http_client=http_client,
    )
    mode = instructor.Mode.TOOLS if base_url is None else instructor.Mode.JSON
    return instructor.from_openai(client, mode=mode)


def endpoint_fingerprint(base_url: str | None, model: str) -> str:
    """Short id of (endpoint, model): another model may answer differently, so outputs keyed
    by a model's version must change with either."""
    return hashlib.sha256(f"{base_url or 'openai'}|{model}".encode()).hexdigest()[:12]


class StructuredChatModel:
    """One structured call per request: a system prompt, a user message, a pydantic reply.

    The base of every model-backed ingest port; ``failure`` is the error a port raises when the
    call fails (a subclass of :class:`ModelCallFailed`).
    """

    failure: type[ModelCallFailed] = ModelCallFailed

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        max_retries: int = 2,
        timeout_s: float = 60.0,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._client = structured_client(
            api_key=api_key, base_url=base_url, timeout_s=timeout_s, http_client=http_client
        )
        self._model = model
        self._max_retries = max_retries
        #: Identifies (endpoint, model) in the versions of what the port produces.
        self.endpoint = endpoint_fingerprint(base_url, model)
        #: Model calls made (each may include schema-repair rounds).
        self.calls = 0

    async def _ask(
        self, system: str, user: str, reply: type[Reply], what: str | None = None
    ) -> Reply:
        """The model's ``reply`` to ``user``; ``failure`` (naming ``what``, by default the reply
        type) if none is valid."""
        messages: list[Any] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        self.calls += 1
        try:
            result: Reply = await self._client.chat.completions.create(
                model=self._model,
                response_model=reply,
                messages=messages,
                max_retries=self._max_retries,
                temperature=0,
            )
        except Exception as exc:  # SDK, transport and validation errors alike
            failed = what or reply.__name__
            raise self.failure(f"{failed} by {self._model} failed: {exc}") from exc
        return result
