"""The ``offline`` provider: deterministic answers with no network and no key.

It is what `make run` and every test use when no key is configured, so a whole workflow (agents,
routers, structured evaluations) runs end to end offline. Same request → same reply, chosen from a
stable hash of the input (never Python's salted ``hash``). Replies are marked ``offline=True`` and
``provider="offline"`` so no one mistakes them for a model's words.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from pydantic import ValidationError

from coagent_workflow_engine.llm.errors import InvalidOutput
from coagent_workflow_engine.llm.ports import ChatRequest, Completion, Delta, SchemaT, Usage

OFFLINE_MODEL = "offline-echo"
_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"[A-Za-z0-9][\w'-]*")
_OPENERS = ("Noted", "Understood", "Thanks", "Got it", "Okay")
_CLOSERS = (
    "What would you like to explore next?",
    "Shall we look at an example?",
    "Which part should we go deeper into?",
    "Does that match what you meant?",
)
_QUOTE_WORDS = 24


def estimate_tokens(text: str) -> int:
    """A cheap, stable token estimate: words and punctuation marks (close to BPE for English)."""
    return len(_TOKEN.findall(text))


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def _request_key(request: ChatRequest) -> str:
    payload = [(m.role, m.name or "", m.content) for m in request.messages]
    return json.dumps([request.model or OFFLINE_MODEL, payload], ensure_ascii=False)


def _pick(options: tuple[str, ...] | list[Any], seed: bytes, salt: str) -> Any:
    index = int.from_bytes(_digest(seed.hex(), salt)[:8], "big") % len(options)
    return options[index]


def _reply_text(request: ChatRequest) -> str:
    seed = _digest(_request_key(request))
    words = request.last_user_text().split()
    quoted = " ".join(words[:_QUOTE_WORDS]) + (" …" if len(words) > _QUOTE_WORDS else "")
    opener, closer = _pick(_OPENERS, seed, "open"), _pick(_CLOSERS, seed, "close")
    return f'[offline] {opener}: "{quoted}". {closer}'


def _chunks(text: str, words_per_chunk: int = 3) -> list[str]:
    pieces = re.findall(r"\S+\s*", text)
    return [
        "".join(pieces[i : i + words_per_chunk]) for i in range(0, len(pieces), words_per_chunk)
    ]


def _prompt_tokens(request: ChatRequest) -> int:
    return sum(estimate_tokens(m.content) + 4 for m in request.messages)


class OfflineChatModel:
    """A ``ChatModel`` that answers from a hash of the input. Free: ``cost_usd`` is always 0.

    ``pace_s`` waits that long before each streamed chunk, so demos and fault drills can watch
    (or interrupt) a reply while it streams, as with a real provider.
    """

    def __init__(self, model: str | None = None, pace_s: float = 0.0) -> None:
        self._model = model or OFFLINE_MODEL
        self._pace_s = pace_s

    @property
    def provider(self) -> str:
        return "offline"

    @property
    def default_model(self) -> str:
        return self._model

    def _completion(self, request: ChatRequest, text: str) -> Completion:
        usage = Usage.of(_prompt_tokens(request), estimate_tokens(text), estimated=True)
        return Completion(
            text=text,
            usage=usage,
            provider="offline",
            model=request.model or self._model,
            offline=True,
            finish_reason="stop",
        )

    async def complete(self, request: ChatRequest) -> Completion:
        return self._completion(request, _reply_text(request))

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        text = _reply_text(request)
        for chunk in _chunks(text):
            if self._pace_s > 0:
                await asyncio.sleep(self._pace_s)
            yield Delta(text=chunk)
        yield Delta(completion=self._completion(request, text))

    async def structured(
        self, request: ChatRequest, schema: type[SchemaT]
    ) -> tuple[SchemaT, Usage]:
        filler = SchemaFiller(request)
        data = filler.fill(schema.model_json_schema())
        try:
            value = schema.model_validate(data)
        except ValidationError as exc:
            raise InvalidOutput(
                f"offline provider cannot satisfy {schema.__name__}: {exc}", provider="offline"
            ) from exc
        usage = Usage.of(_prompt_tokens(request), estimate_tokens(json.dumps(data)), estimated=True)
        return value, usage


class SchemaFiller:
    """Builds a JSON value for a JSON schema, deterministically from the request.

    Strings come from the last user message's words, enums/literals are hash-picked (or the one
    value the message names, so tests and demos can steer an offline router), numbers respect
    bounds, arrays get one or two items, ``$ref``/``anyOf``/``allOf`` are followed.
    """

    def __init__(self, request: ChatRequest) -> None:
        self._seed = _digest(_request_key(request))
        self._text = request.last_user_text()
        self._words = _WORD.findall(self._text) or ["offline"]
        self._defs: dict[str, Any] = {}

    def fill(self, schema: dict[str, Any]) -> Any:
        self._defs = dict(schema.get("$defs", {}))
        return self._value(schema, "$")

    def _value(self, schema: dict[str, Any], path: str) -> Any:
        if "$ref" in schema:
            return self._value(self._defs[schema["$ref"].rsplit("/", 1)[-1]], path)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._choose(list(schema["enum"]), path)
        if "default" in schema and schema.get("default") is not None:
            return schema["default"]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
                return self._value(options[0], path)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(
                    self._defs[part["$ref"].rsplit("/", 1)[-1]] if "$ref" in part else part
                )
            return self._value(merged, path)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        return self._typed(kind, schema, path)

    def _typed(self, kind: str, schema: dict[str, Any], path: str) -> Any:
        if kind == "object":
            props: dict[str, Any] = schema.get("properties", {})
            return {name: self._value(sub, f"{path}.{name}") for name, sub in props.items()}
        if kind == "array":
            low = int(schema.get("minItems", 1))
            high = max(low, min(int(schema.get("maxItems", 2)), 2))
            count = low + self._number(path, high - low + 1)
            item = schema.get("items", {"type": "string"})
            return [self._value(item, f"{path}[{i}]") for i in range(count)]
        if kind == "integer":
            return self._integer(schema, path)
        if kind == "number":
            return float(self._integer(schema, path))
        if kind == "boolean":
            return self._number(path, 2) == 1
        if kind == "null":
            return None
        return self._string(schema, path)

    def _choose(self, options: list[Any], path: str) -> Any:
        mentioned = [o for o in options if isinstance(o, str) and self._mentions(o)]
        if len(mentioned) == 1:
            return mentioned[0]
        return _pick(options, self._seed, path)

    def _mentions(self, value: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", self._text, re.IGNORECASE) is not None

    def _number(self, path: str, modulo: int) -> int:
        return int.from_bytes(_digest(self._seed.hex(), path)[:8], "big") % max(modulo, 1)

    def _integer(self, schema: dict[str, Any], path: str) -> int:
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 11) - 1)
        low, high = int(low), int(high)
        return low + self._number(path, high - low + 1) if high >= low else low

    def _string(self, schema: dict[str, Any], path: str) -> str:
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        if fmt == "date":
            return "2026-01-01"
        if fmt in {"uri", "url"}:
            return "https://example.invalid/offline"
        if fmt == "email":
            return "offline@example.invalid"
        if fmt == "uuid":
            return "00000000-0000-4000-8000-" + _digest(self._seed.hex(), path).hex()[:12]
        start = self._number(path, len(self._words))
        text = " ".join((self._words * 2)[start : start + 6])
        min_len, max_len = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text.ljust(min_len, ".")
        return text[: int(max_len)] if max_len is not None else text
