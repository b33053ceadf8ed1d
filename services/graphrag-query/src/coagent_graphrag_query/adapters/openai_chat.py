"""The ChatModel over an OpenAI-compatible chat-completions endpoint (used when a key is set).

The model sees the question and the numbered passages and is told to end every sentence with
the markers of the passages it relies on; grounding afterwards drops whatever it states without
support, so a model that guesses loses text, never adds claims. Streaming uses the endpoint's
own streaming (server-sent chunks), so grounded sentences go out while it is still writing.
A model that cannot be reached, or fails mid-answer, is a 503 ``model_unavailable``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx2
from openai import AsyncOpenAI, OpenAIError

from coagent_graphrag_query.answers import Passage
from coagent_kit.errors import DependencyUnavailable

ANSWER_PROMPT = (
    "You answer questions about a group conversation using only the numbered passages given.\n"
    "- End every sentence with the markers of the passages it relies on, e.g. "
    '"The demo is on Friday [2]." or "Bob writes the migration [1][3]."\n'
    "- State only what a cited passage says; never add outside knowledge.\n"
    "- Answer in at most {max_sentences} short sentences, in the question's language.\n"
    "- If no passage answers the question, reply with an empty message."
)


class ModelUnavailable(DependencyUnavailable):
    code = "model_unavailable"


def question_prompt(question: str, passages: Sequence[Passage]) -> str:
    """The user message: the passages, numbered as their markers, then the question."""
    numbered = "\n\n".join(f"[{p.number}] {p.text}" for p in passages)
    return f"Passages:\n\n{numbered}\n\nQuestion: {question}"


class OpenAIChatModel:
    """``ChatModel`` backed by a chat-completions endpoint: one call per answer."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_sentences: int = 5,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=1,
            timeout=timeout_s,
            http_client=http_client,
        )
        self._model = model
        self._system = ANSWER_PROMPT.format(max_sentences=max_sentences)

    def _messages(self, question: str, passages: Sequence[Passage]) -> list[Any]:
        return [
            {"role": "system", "content": self._system},
            {"role": "user", "content": question_prompt(question, passages)},
        ]

    async def answer(self, question: str, passages: Sequence[Passage]) -> str:
        try:
            completion = await self._client.chat.completions.create(
                model=self._model, messages=self._messages(question, passages), temperature=0
            )
        except (OpenAIError, httpx2.HTTPError) as exc:
            raise ModelUnavailable(f"The answer model failed: {exc}") from exc
        if not completion.choices:
            return ""
        return completion.choices[0].message.content or ""

    async def stream(self, question: str, passages: Sequence[Passage]) -> AsyncIterator[str]:
        try:
            chunks = await self._client.chat.completions.create(
                model=self._model,
                messages=self._messages(question, passages),
                temperature=0,
                stream=True,
            )
        except (OpenAIError, httpx2.HTTPError) as exc:
            raise ModelUnavailable(f"The answer model failed: {exc}") from exc
        try:
            async for chunk in chunks:
                for choice in chunk.choices[:1]:
                    if choice.delta.content:
                        yield choice.delta.content
        except (OpenAIError, httpx2.HTTPError) as exc:
            raise ModelUnavailable(f"The answer model stopped mid-answer: {exc}") from exc
        finally:
            # Also when the client leaves early: the provider stops generating.
            await chunks.close()
