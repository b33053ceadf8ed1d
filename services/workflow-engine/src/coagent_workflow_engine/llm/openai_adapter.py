"""``ChatModel`` over the OpenAI SDK, for OpenAI itself or any OpenAI-compatible base URL.

Ollama, vLLM and llama.cpp's server speak the same ``/v1/chat/completions`` protocol, so one
adapter covers them all (``base_url``). The SDK's own retries are switched off (``max_retries=0``):
``ResilientChatModel`` owns retries so that they respect ``Retry-After`` and feed the per-key
breaker. Every SDK error is mapped to the layer's hierarchy; none becomes reply text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NoReturn

import httpx2
import instructor
import openai
from openai import AsyncOpenAI

from coagent_workflow_engine.llm.errors import (
    AuthenticationFailed,
    BadRequest,
    LLMError,
    ProviderUnavailable,
    RateLimited,
    parse_retry_after,
)
from coagent_workflow_engine.llm.offline import estimate_tokens
from coagent_workflow_engine.llm.ports import ChatRequest, Completion, Delta, SchemaT, Usage
from coagent_workflow_engine.llm.pricing import cost_of
from coagent_workflow_engine.llm.structured import run_structured, translate

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
PROVIDER = "openai"


def map_openai_error(exc: BaseException) -> LLMError | None:
    """The hierarchy error for an OpenAI SDK exception (``None`` if it is not one)."""
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return ProviderUnavailable(f"connection failed: {exc}", provider=PROVIDER)
    if not isinstance(exc, openai.APIStatusError):
        return None
    status, detail = exc.status_code, _detail(exc)
    if status == 429:
        if _error_code(exc) == "insufficient_quota":
            # A billing problem: waiting will not help, so it must not be retried.
            return AuthenticationFailed(f"quota exhausted: {detail}", provider=PROVIDER)
        retry_after = parse_retry_after(dict(exc.response.headers))
        return RateLimited(detail, retry_after_s=retry_after, provider=PROVIDER)
    if status in (401, 403):
        return AuthenticationFailed(detail, provider=PROVIDER)
    if status in (408, 409) or status >= 500:
        return ProviderUnavailable(f"HTTP {status}: {detail}", provider=PROVIDER)
    return BadRequest(f"HTTP {status}: {detail}", provider=PROVIDER)


def _detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if isinstance(message, str):
            return message
    return exc.message


def _error_code(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    if isinstance(body, dict):
        code = body.get("code") or (body.get("error") or {}).get("code")
        return code if isinstance(code, str) else None
    return None


def _messages(request: ChatRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in request.messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.name:
            item["name"] = message.name
        out.append(item)
    return out


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    prompt, completion = raw.prompt_tokens or 0, raw.completion_tokens or 0
    total = raw.total_tokens or prompt + completion
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def usage_of_response(response: Any) -> Usage | None:
    """Usage of a ``ChatCompletion`` (used by the instructor hook too)."""
    return _usage(getattr(response, "usage", None))


class OpenAIChatModel:
    """One key, one base URL. ``http_client`` is injectable so tests can fake the server."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        structured_retries: int = 2,
    ) -> None:
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, http_client=http_client
        )
        self._official = base_url is None
        self._model = model or DEFAULT_OPENAI_MODEL
        self._structured_retries = structured_retries

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def default_model(self) -> str:
        return self._model

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": request.model or self._model}
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            # OpenAI's newer models reject max_tokens; compatible servers may not know the new name.
            key = "max_completion_tokens" if self._official else "max_tokens"
            params[key] = request.max_tokens
        if request.timeout is not None:
            params["timeout"] = request.timeout
        return params

    def _completion(
        self,
        request: ChatRequest,
        text: str,
        usage: Usage,
        model: str | None,
        finish_reason: str | None,
    ) -> Completion:
        name = model or request.model or self._model
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
        try:
            response = await self._client.chat.completions.create(
                messages=_messages(request),  # type: ignore[arg-type]
                **self._params(request),
            )
        except openai.OpenAIError as exc:
            _raise_mapped(exc)
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice else None) or ""
        usage = _usage(response.usage) or _estimate(request, text)
        return self._completion(
            request, text, usage, response.model, choice.finish_reason if choice else None
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        parts: list[str] = []
        usage: Usage | None = None
        model: str | None = None
        finish: str | None = None
        try:
            chunks = await self._client.chat.completions.create(  # type: ignore[call-overload]
                messages=_messages(request),
                stream=True,
                stream_options={"include_usage": True},
                **self._params(request),
            )
            async with chunks:
                async for chunk in chunks:
                    model = chunk.model or model
                    usage = _usage(chunk.usage) or usage
                    for choice in chunk.choices:
                        finish = choice.finish_reason or finish
                        if choice.delta.content:
                            parts.append(choice.delta.content)
                            yield Delta(text=choice.delta.content)
        except openai.OpenAIError as exc:
            _raise_mapped(exc)
        text = "".join(parts)
        final = self._completion(request, text, usage or _estimate(request, text), model, finish)
        yield Delta(completion=final)

    async def structured(
        self, request: ChatRequest, schema: type[SchemaT]
    ) -> tuple[SchemaT, Usage]:
        # A fresh instructor wrapper per call: run_structured attaches a per-call usage hook.
        client = instructor.from_openai(self._client, mode=instructor.Mode.TOOLS)
        assert isinstance(client, instructor.AsyncInstructor)
        params = self._params(request)
        return await run_structured(
            client,
            schema=schema,
            messages=_messages(request),
            model=params.pop("model"),
            max_retries=self._structured_retries,
            read_usage=usage_of_response,
            map_error=map_openai_error,
            provider=PROVIDER,
            **params,
        )

    async def aclose(self) -> None:
        await self._client.close()


def _raise_mapped(exc: openai.OpenAIError) -> NoReturn:
    """Raise the hierarchy error for ``exc``; unknown SDK errors propagate unchanged."""
    mapped = translate(exc, map_openai_error, PROVIDER)
    if mapped is None:
        raise exc
    raise mapped from exc


def _estimate(request: ChatRequest, text: str) -> Usage:
    """Compatible servers may omit usage; estimate rather than record zero."""
    prompt = sum(estimate_tokens(m.content) + 4 for m in request.messages)
    return Usage.of(prompt, estimate_tokens(text), estimated=True)
