"""Threads and their messages, the limits that keep a sandbox cheap, and the errors it raises.

A thread belongs to the user who opened it and to nobody else: other users get the same 404 as
for a thread that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from coagent_kit.errors import NotFound, TooManyRequests, Unprocessable

MessageRole = Literal["user", "assistant"]

#: Longest message a user may send (characters); longer ones are refused with 422.
MAX_MESSAGE_CHARS = 8_000
#: ``metadata_json`` is stored as the client sends it, within this size.
MAX_METADATA_CHARS = 8_000
#: Stored messages per thread (user + assistant); a full thread takes no more turns.
MAX_THREAD_MESSAGES = 1_000
#: Thread turns the model sees at most, whatever the agent's context window says.
MAX_HISTORY = 50


class ThreadNotFound(NotFound):
    code = "thread_not_found"


class ThreadFull(Unprocessable):
    code = "thread_full"


class InvalidMetadata(Unprocessable):
    code = "invalid_metadata_json"


class ExternalAgentUnsupported(Unprocessable):
    code = "external_agent_unsupported"


class AgentNotInProject(Unprocessable):
    code = "agent_not_in_project"


class MessagesRateLimited(TooManyRequests):
    code = "thread_rate_limited"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_s)}


@dataclass(frozen=True)
class Thread:
    """A conversation of ``user_id`` with one agent."""

    id: str
    user_id: str
    agent_id: str
    project_id: str | None
    name: str
    metadata_json: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ThreadMessage:
    """One turn; an assistant turn's ``metadata_json`` says which provider answered."""

    id: str
    thread_id: str
    role: MessageRole
    content: str
    metadata_json: str | None
    created_at: datetime


def checked_metadata(text: str | None) -> str | None:
    """``metadata_json`` must hold a JSON object (the client stores settings in it)."""
    if text is None:
        return None
    if len(text) > MAX_METADATA_CHARS:
        raise InvalidMetadata(f"metadata_json is longer than {MAX_METADATA_CHARS} characters")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidMetadata("metadata_json is not valid JSON") from exc
    if not isinstance(value, dict):
        raise InvalidMetadata("metadata_json must be a JSON object")
    return text


class RateLimiter:
    """At most ``limit`` messages per user in any ``window_s`` seconds (sliding window).

    Per process: each engine replica admits its own share, which bounds what one user can spend
    on model calls without a shared store on the hot path.
    """

    def __init__(
        self,
        limit: int = 30,
        window_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit, self._window, self._now = limit, window_s, monotonic
        self._seen: dict[str, deque[float]] = {}

    def admit(self, user_id: str) -> None:
        """Count one message of ``user_id`` or raise ``MessagesRateLimited``."""
        now = self._now()
        times = self._seen.setdefault(user_id, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        if len(times) >= self._limit:
            wait = max(int(times[0] + self._window - now) + 1, 1)
            raise MessagesRateLimited(
                f"At most {self._limit} messages per {self._window:g} s; retry in {wait} s",
                wait,
            )
        times.append(now)
        if len(self._seen) > 10_000:  # forget idle users so the table stays small
            for user in [u for u, t in self._seen.items() if not t]:
                del self._seen[user]
