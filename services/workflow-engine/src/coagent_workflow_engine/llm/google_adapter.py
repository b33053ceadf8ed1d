"""``ChatModel`` over Google GenAI (``google-genai``) for Gemini models.

The SDK's retries are switched off (one attempt, ``HttpRetryOptions(attempts=1)``, which also
stops its hidden 1-10 s sleep on connection errors): ``ResilientChatModel`` owns retries. Gemini
reports an invalid key as HTTP 400 ``API_KEY_INVALID`` and a rate limit's wait as a ``RetryInfo``
detail rather than a header; both are decoded here so they map like OpenAI's 401 and 429.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import httpx
import httpx2
import instructor
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from coagent_workflow_engine.llm.errors import (
    AuthenticationFailed,
    BadRequest,
    LLMError,
    ProviderUnavailable,
    RateLimited,
    parse_duration,
    parse_retry_after,
)
from coagent_workflow_engine.llm.ports import ChatRequest, Completion, Delta, SchemaT, Usage
from coagent_workflow_engine.llm.pricing import cost_of
from coagent_workflow_engine.llm.structured import run_structured, translate

DEFAULT_GOOGLE_MODEL = "gemini-2.5-flash"
PROVIDER = "google"
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TransportError,
    httpx2.TransportError,
    TimeoutError,
    ConnectionError,
)
try:  # google-genai prefers aiohttp when it is installed and no httpx client is injected
    import aiohttp

    _NETWORK_ERRORS += (aiohttp.ClientError,)
except ImportError:  # pragma: no cover - depends on the environment
    pass

_GENAI_ROLE = {"system": "system", "user": "user", "assistant": "model"}
_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}


def map_genai_error(exc: BaseException) -> LLMError | None:
    """The hierarchy error for a google-genai or transport exception (``None`` otherwise)."""
    if isinstance(exc, _NETWORK_ERRORS):
        return ProviderUnavailable(f"connection failed: {exc!r}", provider=PROVIDER)
    if not isinstance(exc, genai_errors.APIError):
        return None
    code, detail = exc.code, exc.message or str(exc)
    if code == 429:
        return RateLimited(detail, retry_after_s=_retry_after(exc), provider=PROVIDER)
    if code in (401, 403) or "API_KEY_INVALID" in json.dumps(exc.details, default=str):
        return AuthenticationFailed(detail, provider=PROVIDER)
    if code == 408 or code >= 500:
        return ProviderUnavailable(f"HTTP {code}: {detail}", provider=PROVIDER)
    return BadRequest(f"HTTP {code}: {detail}", provider=PROVIDER)


def _retry_after(exc: genai_errors.APIError) -> float | None:
    headers = getattr(exc.response, "headers", None)
    from_header = parse_retry_after(dict(headers) if headers is not None else None)
    if from_header is not None:
        return from_header
    error = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else {}
    for detail in error.get("details", []) if isinstance(error, dict) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str):
            return parse_duration(delay)
    return None


def split_messages(request: ChatRequest) -> tuple[str | None, list[types.Content]]:
    """Gemini takes system text apart and calls the assistant role ``model``."""
    system = [m.content for m in request.messages if m.role == "system"]
    contents = [
        types.Content(
            role="model" if m.role == "assistant" else "user",
            parts=[types.Part(text=f"[{m.name}] {m.content}" if m.name else m.content)],
        )
        for m in request.messages
        if m.role != "system"
    ]
    return ("\n\n".join(system) or None), contents


def usage_of_response(response: Any) -> Usage | None:
    """Usage of a ``GenerateContentResponse``; thinking tokens are billed as output."""
    meta = getattr(response, "usage_metadata", None)
    if meta is None or meta.prompt_token_count is None:
        return None
    prompt = meta.prompt_token_count or 0
    output = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
    total = meta.total_token_count or prompt + output
    return Usage(prompt_tokens=prompt, completion_tokens=output, total_tokens=total)


def text_of(response: types.GenerateContentResponse) -> str:
    """Concatenated text parts of the first candidate (skips thought parts and tool calls)."""
    if not response.candidates or response.candidates[0].content is None:
        return ""
    parts = response.candidates[0].content.parts or []
    return "".join(p.text for p in parts if p.text and not p.thought)


def finish_of(response: types.GenerateContentResponse) -> str | None:
    if not response.candidates or response.candidates[0].finish_reason is None:
        return None
    name = response.candidates[0].finish_reason.name
    return _FINISH.get(name, name.lower())


class GoogleChatModel:
    """One Gemini API key. ``http_client`` (httpx or httpx2) is injectable for tests."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str | None = None,
        http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        structured_retries: int = 2,
    ) -> None:
        options = types.HttpOptions(
            retry_options=types.HttpRetryOptions(attempts=1), httpx_async_client=http_client
        )
        self._client = genai.Client(api_key=api_key, http_options=options)
        self._model = model or DEFAULT_GOOGLE_MODEL
        self._structured_retries = structured_retries

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def default_model(self) -> str:
        return self._model

    def _config(self, request: ChatRequest, system: str | None) -> types.GenerateContentConfig:
        timeout_ms = int(request.timeout * 1000) if request.timeout is not None else None
        return types.GenerateContentConfig(
            system_instruction=system,
            temperature=request.temperature,
            max_output_tokens=request.max_tokens,
            http_options=types.HttpOptions(timeout=timeout_ms) if timeout_ms else None,
        )

    def _completion(
        self, request: ChatRequest, text: str, usage: Usage | None, finish_reason: str | None
    ) -> Completion:
        name = request.model or self._model
        usage = usage or Usage()
        cost, priced = cost_of(name, usage)
        return Completion(
            text=text,
            usage=usage,
            cost_usd=cost,
            priced=priced,
            provider=PROVIDER,
            model=name,
            finish_reason=finish_reason,
        )

    async def complete(self, request: ChatRequest) -> Completion:
        system, contents = split_messages(request)
        try:
            response = await self._client.aio.models.generate_content(
                model=request.model or self._model,
                contents=contents,
                config=self._config(request, system),
            )
        except Exception as exc:
            _raise_mapped(exc)
        return self._completion(
            request, text_of(response), usage_of_response(response), finish_of(response)
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        system, contents = split_messages(request)
        parts: list[str] = []
        usage: Usage | None = None
        finish: str | None = None
        try:
            chunks = await self._client.aio.models.generate_content_stream(
                model=request.model or self._model,
                contents=contents,
                config=self._config(request, system),
            )
            async for chunk in chunks:
                usage = usage_of_response(chunk) or usage
                finish = finish_of(chunk) or finish
                piece = text_of(chunk)
                if piece:
                    parts.append(piece)
                    yield Delta(text=piece)
        except Exception as exc:
            _raise_mapped(exc)
        yield Delta(completion=self._completion(request, "".join(parts), usage, finish))

    async def structured(
        self, request: ChatRequest, schema: type[SchemaT]
    ) -> tuple[SchemaT, Usage]:
        # instructor's GenAI JSON mode: response_schema + pydantic validation + repair re-asks.
        client = instructor.from_genai(self._client, mode=instructor.Mode.JSON, use_async=True)
        extra: dict[str, Any] = {}
        if request.temperature is not None:
            extra["temperature"] = request.temperature
        if request.max_tokens is not None:
            extra["max_tokens"] = request.max_tokens
        messages = [
            {
                "role": _GENAI_ROLE[m.role],
                "content": f"[{m.name}] {m.content}" if m.name else m.content,
            }
            for m in request.messages
        ]
        try:
            async with asyncio.timeout(request.timeout):
                return await run_structured(
                    client,
                    schema=schema,
                    messages=messages,
                    model=request.model or self._model,
                    max_retries=self._structured_retries,
                    read_usage=usage_of_response,
                    map_error=map_genai_error,
                    provider=PROVIDER,
                    **extra,
                )
        except TimeoutError as exc:
            raise ProviderUnavailable("structured call timed out", provider=PROVIDER) from exc


def _raise_mapped(exc: Exception) -> NoReturn:
    """Raise the hierarchy error for ``exc``; unknown exceptions (bugs) propagate unchanged."""
    mapped = translate(exc, map_genai_error, PROVIDER)
    if mapped is None:
        raise exc
    raise mapped from exc
