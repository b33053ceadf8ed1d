"""The instructor client every model-backed ingest port shares.

Official OpenAI gets tool calling; other OpenAI-compatible endpoints (vLLM, Ollama, LM Studio …)
get plain JSON mode, which more of them support. instructor re-asks with the validation error
(schema repair); the SDK itself retries a failed request once.
"""

from __future__ import annotations

import hashlib

import httpx2
import instructor
from openai import AsyncOpenAI


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
